"""Corpus readers (TinySOL official layout, labelled folders), layout detection, CLI."""

from __future__ import annotations

import csv
import importlib.util
import logging

import pytest
from corpus_fixtures import TINYSOL_HEADER, write_folder, write_tinysol

from rtsynth.cli import main
from rtsynth.train.corpus.folder import read_folder
from rtsynth.train.corpus.read import read_corpus, summarize
from rtsynth.train.corpus.tinysol import read_tinysol


def labels_of(corpus) -> dict:
    return {r.source_id: (r.instrument, r.pitch, r.dynamics) for r in corpus.records}


def assert_skips(corpus, expected: dict[str, str]) -> None:
    reasons = {s.source_id: s.reason for s in corpus.skipped}
    assert set(reasons) == set(expected), reasons
    for source_id, word in expected.items():
        assert word in reasons[source_id], (source_id, reasons[source_id])


def rewrite_csv(path, edit) -> None:
    """Apply `edit(rows)` to a CSV's rows (header included)."""
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(edit(rows))


def test_tinysol_labels_from_the_official_layout(tmp_path):
    fixture = write_tinysol(tmp_path)
    corpus = read_tinysol(tmp_path)
    assert corpus.kind == "tinysol"
    assert labels_of(corpus) == fixture.labels
    for record in corpus.records:
        assert record.path.is_file() and record.path == (tmp_path / record.source_id).resolve()
    flute_p = next(r for r in corpus.records if r.source_id.endswith("Fl-ord-C5-p-N-N.wav"))
    assert flute_p.dynamics == "pp" and flute_p.extra["Dynamics"] == "p"
    violin = next(r for r in corpus.records if r.instrument == "violin")
    assert violin.extra["String ID (if applicable)"] == "1.0" and "Fold" in violin.extra


def test_tinysol_every_unusable_row_and_file_is_skipped_with_a_reason(tmp_path):
    fixture = write_tinysol(tmp_path)
    corpus = read_tinysol(tmp_path)
    assert_skips(corpus, fixture.skipped)


@pytest.mark.parametrize("layout", ["official", "subdir", "mirdata"])
def test_read_corpus_finds_tinysol_audio_in_each_layout(tmp_path, layout):
    fixture = write_tinysol(tmp_path, defects=False, layout=layout)
    corpus = read_corpus(tmp_path)
    assert corpus.kind == "tinysol"
    assert labels_of(corpus) == fixture.labels
    assert corpus.skipped == []


def test_tinysol_pitch_and_pitch_id_must_agree(tmp_path):
    write_tinysol(tmp_path, defects=False)
    pitch_id = TINYSOL_HEADER.index("Pitch ID")

    def shift_first_row(rows):
        rows[1][pitch_id] = str(int(rows[1][pitch_id]) + 1)
        return rows

    rewrite_csv(tmp_path / "TinySOL_metadata.csv", shift_first_row)
    corpus = read_tinysol(tmp_path)
    assert [s.reason for s in corpus.skipped] == ["TinySOL_metadata.csv line 2: Pitch 'F#1' and Pitch ID 31 disagree"]


def test_tinysol_header_without_a_required_column_is_an_error(tmp_path):
    write_tinysol(tmp_path, defects=False)
    column = TINYSOL_HEADER.index("Instrument (abbr.)")
    rewrite_csv(tmp_path / "TinySOL_metadata.csv", lambda rows: [r[:column] + r[column + 1 :] for r in rows])
    with pytest.raises(ValueError, match=r"Instrument \(abbr\.\)"):
        read_tinysol(tmp_path)


def test_tinysol_metadata_without_any_audio_is_an_error(tmp_path):
    fixture = write_tinysol(tmp_path / "full", defects=False)
    (tmp_path / "bare").mkdir()
    (fixture.root / "TinySOL_metadata.csv").rename(tmp_path / "bare" / "TinySOL_metadata.csv")
    with pytest.raises(FileNotFoundError, match=r"TinySOL.tar.gz"):
        read_tinysol(tmp_path / "bare")


@pytest.mark.parametrize("gm, kind", [(False, "folder"), (True, "gm-sol")])
def test_folder_corpus_labels_kind_and_skips(tmp_path, gm, kind):
    fixture = write_folder(tmp_path, gm=gm)
    corpus = read_corpus(tmp_path)
    assert corpus.kind == kind
    assert labels_of(corpus) == fixture.labels
    assert_skips(corpus, fixture.skipped)
    assert {r.extra["take"] for r in corpus.records} == {"0", "1", "2"}


def test_folder_malformed_rows_and_paths_outside_are_skipped(tmp_path):
    fixture = write_folder(tmp_path, defects=False)
    (tmp_path / "outside.wav").write_bytes(b"")  # exists, but the row climbs out of the corpus
    corpus_dir = tmp_path / "corpus"
    corpus_dir.mkdir()
    for name in fixture.labels:
        (corpus_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).rename(corpus_dir / name)
    (tmp_path / "labels.csv").rename(corpus_dir / "labels.csv")
    rewrite_csv(
        corpus_dir / "labels.csv",
        lambda rows: (
            [
                *rows,
                ["../outside.wav", "bells", "60", "mf", "7"],
                ["bells.wav", "bells"],
                ["bells.wav", "bells", "A3", "pp", "8"],
                ["x.wav", "", "60", "mf", "9"],
            ]
        ),
    )
    corpus = read_folder(corpus_dir)
    assert labels_of(corpus) == fixture.labels
    reasons = [s.reason for s in corpus.skipped]
    assert reasons == [
        "labels.csv line 5: path '../outside.wav' points outside the corpus folder",
        "labels.csv line 6: malformed row: its number of fields differs from the header's",
        "labels.csv line 7: same file as line 4",
        "labels.csv line 8: empty instrument",
    ]


def test_folder_header_without_a_required_column_names_it(tmp_path):
    write_folder(tmp_path, defects=False)
    rewrite_csv(tmp_path / "labels.csv", lambda rows: [r[:3] + r[4:] for r in rows])
    with pytest.raises(ValueError, match="dynamics"):
        read_folder(tmp_path)


def test_read_corpus_says_what_it_looked_for(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"TinySOL_metadata.csv.*labels.csv"):
        read_corpus(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_corpus(tmp_path / "nowhere")


def test_summary_counts_dynamics_and_pitch_range(tmp_path):
    write_tinysol(tmp_path)
    lines = summarize(read_tinysol(tmp_path)).splitlines()
    assert lines[0].endswith("6 notes, 5 skipped")
    assert lines[1].split() == ["instrument", "notes", "pp", "mf", "ff", "pitch", "range"]
    flute = next(line for line in lines if line.startswith("flute"))
    assert flute.split() == ["flute", "2", "1", "1", "0", "C4-C5", "(60-72)"]
    assert any("unknown instrument abbreviation 'Pno'" in line for line in lines)


def test_cli_tinysol_and_folder_end_to_end(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    write_tinysol(tmp_path / "tinysol")
    write_folder(tmp_path / "mine")
    assert main(["data", "tinysol", "--root", str(tmp_path / "tinysol")]) == 0
    assert "tinysol corpus" in caplog.text and "tuba" in caplog.text and "not found" in caplog.text
    caplog.clear()
    assert main(["data", "folder", "--root", str(tmp_path / "mine")]) == 0
    assert "folder corpus" in caplog.text and "my_synth" in caplog.text
    caplog.clear()
    assert main(["data", "folder", "--root", str(tmp_path / "tinysol")]) == 2
    assert "no labels.csv" in caplog.text


def test_cli_a_corpus_with_no_usable_note_fails(tmp_path, caplog):
    write_folder(tmp_path, defects=False)
    rewrite_csv(tmp_path / "labels.csv", lambda rows: [rows[0]] + [[*r[:2], "Z", *r[3:]] for r in rows[1:]])
    assert main(["data", "folder", "--root", str(tmp_path)]) == 1
    assert "no usable notes" in caplog.text


@pytest.mark.skipif(importlib.util.find_spec("mirdata") is not None, reason="mirdata installed: would go online")
def test_cli_download_without_mirdata_names_the_extra(tmp_path, caplog):
    assert main(["data", "tinysol", "--root", str(tmp_path), "--download"]) == 2
    assert "rtsynth[download]" in caplog.text


def test_a_labels_file_that_is_not_text_is_a_clear_error(tmp_path):
    (tmp_path / "labels.csv").write_bytes(b"path,instrument,pitch,dynamics\n\xff\xfe\x00bad,x,60,mf\n")
    with pytest.raises(ValueError, match="not a readable UTF-8 CSV"):
        read_corpus(tmp_path)
