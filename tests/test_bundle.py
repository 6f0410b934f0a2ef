"""Bundle validation at load: every kind of damage gets its own clear error."""

import json

import numpy as np
import pytest
from bundle_factory import linear_decoder, make_bundle

from rtsynth.bundle import (
    BundleChecksumError,
    BundleError,
    BundleFileError,
    BundleShapeError,
    BundleVersionError,
    read_spec,
    write_spec,
)
from rtsynth.model import load_model
from rtsynth.settings import MelSettings


@pytest.fixture
def bundle(tmp_path):
    return make_bundle(tmp_path / "b")


def test_good_bundle_loads_and_decodes(bundle):
    model = load_model(bundle)
    assert model.provider == "CPUExecutionProvider"
    mel = model.decode(np.zeros((3, 20), np.float32))
    assert mel.shape == (3, 256, 256) and mel.min() >= 0 and mel.max() <= 1
    assert model.spec.vocab.timbre == ("flute", "violin", "trumpet")
    assert model.spec.means("pitch").shape == (8, 4)


def test_cuda_request_falls_back_to_cpu_with_warning(bundle, caplog):
    model = load_model(bundle, device="cuda")
    assert model.provider == "CPUExecutionProvider"
    assert "CUDA was asked for" in caplog.text


def test_decode_rejects_wrong_latent_shape(bundle):
    with pytest.raises(ValueError, match=r"shape \[batch, 20\]"):
        load_model(bundle).decode(np.zeros((1, 19), np.float32))


def test_missing_directory_and_spec(tmp_path):
    with pytest.raises(BundleFileError, match="not found"):
        read_spec(tmp_path / "nope")
    with pytest.raises(BundleFileError, match=r"no bundle.json"):
        read_spec(tmp_path)


def test_missing_file(bundle):
    (bundle / "decoder.onnx").unlink()
    with pytest.raises(BundleFileError, match=r"missing.*decoder.onnx"):
        read_spec(bundle)


def test_damaged_file_fails_checksum(bundle):
    data = bytearray((bundle / "decoder.onnx").read_bytes())
    data[-10] ^= 0xFF
    (bundle / "decoder.onnx").write_bytes(bytes(data))
    with pytest.raises(BundleChecksumError, match="sha256"):
        read_spec(bundle)


def _edit_spec(bundle, edit):
    path = bundle / "bundle.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def test_wrong_version(bundle):
    _edit_spec(bundle, lambda d: d.update(format_version=99))
    with pytest.raises(BundleVersionError, match="version 99"):
        read_spec(bundle)


def test_not_a_bundle(bundle):
    _edit_spec(bundle, lambda d: d.update(format="something-else"))
    with pytest.raises(BundleVersionError, match="not an rtsynth bundle"):
        read_spec(bundle)


def test_wrong_prior_shape(bundle):
    _edit_spec(bundle, lambda d: d["descriptors"]["pitch"]["means"].pop())
    with pytest.raises(BundleShapeError, match=r"pitch prior means have shape \(7, 4\)"):
        read_spec(bundle)


def test_truncated_json(bundle):
    (bundle / "bundle.json").write_text('{"format": "rtsynth-bundle"')
    with pytest.raises(BundleError, match="not valid JSON"):
        read_spec(bundle)


def test_incomplete_json(bundle):
    _edit_spec(bundle, lambda d: d.pop("loudness_db"))
    with pytest.raises(BundleError, match="incomplete or malformed"):
        read_spec(bundle)


def test_decoder_output_shape_must_match_mel_settings(tmp_path):
    bundle = make_bundle(tmp_path / "b")
    small = MelSettings(n_mels=64)
    linear_decoder(bundle / "decoder.onnx", small)
    # re-sign the files so only the shape is wrong
    from rtsynth.bundle import BundleSpec

    write_spec(bundle, BundleSpec.from_json((bundle / "bundle.json").read_text()))
    with pytest.raises(BundleShapeError, match="decoder output must be mel"):
        load_model(bundle)


def test_decoder_metadata_must_agree(tmp_path):
    bundle = make_bundle(tmp_path / "b")
    linear_decoder(bundle / "decoder.onnx", MelSettings(), metadata={"rtsynth.format_version": "1"})
    from rtsynth.bundle import BundleSpec

    write_spec(bundle, BundleSpec.from_json((bundle / "bundle.json").read_text()))
    with pytest.raises(BundleShapeError, match="metadata disagrees"):
        load_model(bundle)


def test_not_onnx(tmp_path):
    bundle = make_bundle(tmp_path / "b")
    (bundle / "decoder.onnx").write_bytes(b"not a model")
    from rtsynth.bundle import BundleSpec

    write_spec(bundle, BundleSpec.from_json((bundle / "bundle.json").read_text()))
    with pytest.raises(BundleShapeError, match="cannot be loaded by onnxruntime"):
        load_model(bundle)


def _set(path: str, value):
    """A change to bundle.json: set the value at a dotted path (list indices as numbers)."""

    def apply(data):
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
        return data

    return apply


def _drop(path: str):
    def apply(data):
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node[key]
        del node[last]
        return data

    return apply


NAN, INF = float("nan"), float("inf")
SYNTHESIS = {"kind": "harmonic-noise", "partials": 12, "partial_scale": 1e-4, "noise_bands_hz": [100.0, 1000.0]}


def _synthesis(**change):
    """bundle.json with direct synthesis declared, one field changed (None: left out)."""
    fields = {k: v for k, v in {**SYNTHESIS, **change}.items() if v is not None}
    return lambda data: {**data, "synthesis": fields}


def _key_levels(values):
    """bundle.json calibrated per key, flute's mf row replaced by `values`."""

    def apply(data):
        n = len(data["descriptors"]["pitch"]["classes"])
        table = {t: {d: [0.0] * n for d in data["velocity_to_dynamics"]} for t in data["loudness_db"]}
        table["flute"]["mf"] = values(n)
        return {**data, "key_level_db": table}

    return apply


def _air(row, bands=(11600.0, 13000.0)):
    """bundle.json with air bands, flute's mf row at pitch class 3 replaced by `row`."""

    def apply(data):
        n = len(data["descriptors"]["pitch"]["classes"])
        table = {
            t: {v: [[-120.0] * len(bands) for _ in range(n)] for v in data["velocity_to_dynamics"]}
            for t in data["loudness_db"]
        }
        table["flute"]["mf"][3] = row
        return {**data, "air_bands_hz": list(bands), "air_db": table}

    return apply


def _duration_levels(values, lengths=None, rows=None):
    """bundle.json calibrated per length, flute's mf row 1 (over the pitch classes) replaced by
    `values`; the rows at `lengths` (None: one per duration class), `rows` of them (None: as many)."""

    def apply(data):
        n = len(data["descriptors"]["pitch"]["classes"])
        d = rows or len(lengths or data["descriptors"]["duration"]["classes"])
        table = {
            t: {v: [[0.0] * n for _ in range(d)] for v in data["velocity_to_dynamics"]} for t in data["loudness_db"]
        }
        table["flute"]["mf"][1] = values(n)
        return {**data, "duration_level_db": table, **({"duration_level_s": lengths} if lengths else {})}

    return apply


BROKEN = {  # what is changed -> what the error must name
    "a list, not an object": (lambda data: [data], "JSON object"),
    "a number, not an object": (lambda data: 7, "JSON object"),
    "NaN loudness": (_set("loudness_db.flute.mf", NAN), "loudness_db['flute']['mf']"),
    "infinite loudness": (_set("loudness_db.violin.pp", INF), "loudness_db['violin']['pp']"),
    "absurd loudness": (_set("loudness_db.trumpet.ff", 400.0), "loudness_db['trumpet']['ff']"),
    "text loudness": (_set("loudness_db.flute.pp", "loud"), "loudness_db['flute']['pp']"),
    "a timbre without loudness": (_drop("loudness_db.violin"), "loudness_db['violin']"),
    "loudness not a table": (_set("loudness_db", [1, 2]), "loudness_db"),
    "hop_length 0": (_set("mel.hop_length", 0), "mel.hop_length"),
    "negative n_fft": (_set("mel.n_fft", -2048), "mel.n_fft"),
    "sample rate 0": (_set("mel.sample_rate", 0), "mel.sample_rate"),
    "no mel bands": (_set("mel.n_mels", 0), "mel.n_mels"),
    "db range 0": (_set("mel.db_range", 0), "mel.db_range"),
    "NaN note length": (_set("mel.note_seconds", NAN), "mel.note_seconds"),
    "velocity 0": (_set("velocity_to_dynamics.mf", 0), "velocity_to_dynamics['mf']"),
    "velocity 200": (_set("velocity_to_dynamics.ff", 200), "velocity_to_dynamics['ff']"),
    "velocity as text": (_set("velocity_to_dynamics.pp", "soft"), "velocity_to_dynamics['pp']"),
    "NaN sigma": (_set("descriptors.timbre.sigma", NAN), "descriptors.timbre.sigma"),
    "zero sigma": (_set("descriptors.pitch.sigma", 0), "descriptors.pitch.sigma"),
    "NaN prior mean": (_set("descriptors.dynamics.means.0.0", NAN), "dynamics prior means"),
    "a prior mean too few": (_set("descriptors.duration.means", [[0.0, 0.0, 0.0, 0.0]]), "duration prior means"),
    "name not text": (_set("name", 42), "name"),
    "wrong format": (_set("format", "something-else"), "not an rtsynth bundle"),
    "future version": (_set("format_version", 99), "version 99"),
    "no mel settings": (_drop("mel"), "incomplete or malformed"),
    "no descriptors": (_drop("descriptors"), "incomplete or malformed"),
    "malformed latent layout": (_set("latent.layout", "T8P4"), "latent layout"),
    "latent size off": (_set("latent.size", 21), "latent layout"),
    "no decoder listed": (lambda data: {**data, "files": {}}, "lists no decoder.onnx"),
    "a wrong checksum": (lambda data: {**data, "files": {"decoder.onnx": "0" * 64}}, "decoder.onnx is damaged"),
    "a file outside the bundle": (lambda data: {**data, "files": {"../x": "0" * 64, **data["files"]}}, "plain name"),
    "unknown synthesis": (_synthesis(kind="wavetable"), "synthesis.kind"),
    "synthesis without its scale": (_synthesis(partial_scale=None), "synthesis.partial_scale"),
    "NaN partial scale": (_synthesis(partial_scale=NAN), "synthesis.partial_scale"),
    "noise bands out of order": (_synthesis(noise_bands_hz=[1000.0, 100.0]), "synthesis.noise_bands_hz"),
    "no partials": (_synthesis(partials=0), "synthesis.partials"),
    "NaN key level": (_key_levels(lambda n: [NAN] * n), "key_level_db['flute']['mf']"),
    "key levels one short": (_key_levels(lambda n: [0.0] * (n - 1)), "key_level_db['flute']['mf']"),
    "absurd key level": (_key_levels(lambda n: [90.0] * n), "key_level_db['flute']['mf']"),
    "NaN duration level": (_duration_levels(lambda n: [NAN] * n), "duration_level_db['flute']['mf'][1]"),
    "duration levels one short": (_duration_levels(lambda n: [0.0] * (n - 1)), "duration_level_db['flute']['mf'][1]"),
    "level lengths not increasing": (
        _duration_levels(lambda n: [0.0] * n, lengths=[0.3, 0.25, 1.0]),
        "duration_level_s must be increasing",
    ),
    "a level length not a length": (
        _duration_levels(lambda n: [0.0] * n, lengths=[0.25, NAN, 1.0]),
        "duration_level_s must be a list of positive lengths",
    ),
    "a level row short of its lengths": (
        _duration_levels(lambda n: [0.0] * n, lengths=[0.25, 0.3, 1.0], rows=2),
        "must hold 3 rows, one per length of duration_level_s",
    ),
    "NaN air density": (_air([-40.0, NAN]), "air_db['flute']['mf'][3] holds nan"),
    "air density above the note": (_air([-40.0, 6.0]), "air_db['flute']['mf'][3] holds 6.0"),
    "air densities one short": (_air([-40.0]), "air_db['flute']['mf'][3] must be a list of 2 dB values"),
    "air bands not increasing": (_air([-40.0, -50.0], bands=(13000.0, 11600.0)), "air_bands_hz must be increasing"),
    "air band not a frequency": (_air([-40.0, -50.0], bands=(11600.0, -1.0)), "air_bands_hz must be a list"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_every_broken_bundle_is_refused_with_the_problem_named(tmp_path, case):
    change, named = BROKEN[case]
    bundle = make_bundle(tmp_path / "b")
    spec = bundle / "bundle.json"
    spec.write_text(json.dumps(change(json.loads(spec.read_text()))))
    with pytest.raises(BundleError) as refused:
        read_spec(bundle)
    assert named in str(refused.value), str(refused.value)
    assert "\n" not in str(refused.value)
