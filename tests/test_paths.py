from pathlib import Path

import pytest

from rtsynth.paths import UnsafeNameError, resolve_name


@pytest.mark.parametrize("name", ["warm", "warm pad", "Pad_2-b", "strings.v2", "été"])
def test_plain_names_resolve_inside_the_folder(tmp_path, name):
    path = resolve_name(tmp_path, name, ".json")
    assert path.parent == tmp_path
    assert path.name == name + ".json"


def test_suffix_is_not_doubled(tmp_path):
    assert resolve_name(tmp_path, "warm.json", ".json") == tmp_path / "warm.json"
    assert resolve_name(tmp_path, "default") == tmp_path / "default"


@pytest.mark.parametrize(
    "name, why",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("..", "'.'"),
        ("../x", "'.'"),
        (".hidden", "'.'"),
        ("a/../../etc", "'/'"),
        ("/etc/passwd", "'/'"),
        ("/etc", "'/'"),
        ("..\\x", "'.'"),
        ("sub\\x", "contains"),
        ("C:evil", "':'"),
        ("nul\x00byte", "contains"),
        ("line\nbreak", "contains"),
        (" lead", "spaces"),
        ("x" * 200, "longer"),
        (42, "string"),
        (None, "string"),
    ],
)
def test_unsafe_names_are_refused_with_the_reason(tmp_path, name, why):
    with pytest.raises(UnsafeNameError, match=why):
        resolve_name(tmp_path, name, ".json")


def test_refusal_is_a_value_error_naming_the_input(tmp_path):
    with pytest.raises(ValueError, match=r"\.\./x"):
        resolve_name(Path(tmp_path), "../x")
