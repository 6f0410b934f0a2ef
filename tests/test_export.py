"""`rtsynth export`: a tiny trained run -> ONNX bundle -> rtsynth.model.load_model, with the
parity check, the bundle facts, atomic writes and the CLI, end to end on real components."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from rtsynth.bundle import BUNDLE_VERSION, read_spec
from rtsynth.cli import main
from rtsynth.export.bundle_writer import ExportOptions, export_bundle
from rtsynth.export.facts import velocity_mapping
from rtsynth.export.metrics import bundle_metrics
from rtsynth.export.parity import ParityError, check_parity, parity_latents
from rtsynth.export.priors import bundle_priors
from rtsynth.export.staging import BundleExistsError
from rtsynth.labels import DESCRIPTORS, LATENT_SIZE, Vocabulary
from rtsynth.model import METADATA_KEYS, load_model
from rtsynth.settings import PAPER_MEL
from rtsynth.train.config import ModelConfig, TrainConfig
from rtsynth.train.prep.cache import NoteCache, write_cache
from rtsynth.train.runs import load_run
from rtsynth.train.trainer import Trainer

VOCAB = Vocabulary(
    timbre=("flute", "cello"), pitch=(60, 61, 62), dynamics=("pp", "mf", "ff"), duration=(0.5, 1.0, 1.5, 2.0)
)
LEVEL = {"flute": -8.0, "cello": -14.0}
DYNAMICS_DB = {"pp": -22.0, "mf": -10.0, "ff": 0.0}
TINY = ModelConfig(
    encoder_channels=(4, 8),
    decoder_channels=(8, 4),
    hidden=16,
    head_hidden=0,
    classifier_hidden=8,
    remover_hidden=(8,),
    decoder_output="mel",
)


def build_cache(
    root: Path, vocab: Vocabulary = VOCAB, mel_shape=(PAPER_MEL.n_mels, PAPER_MEL.n_frames), seed: int = 0
) -> NoteCache:
    """Every timbre x pitch x dynamics note except cello ff (a hole in the loudness table);
    the longest duration class occurs only outside the training split."""
    rng = np.random.default_rng(seed)
    rows = [
        (t, p, v)
        for t in range(len(vocab.timbre))
        for p in range(len(vocab.pitch))
        for v in range(len(vocab.dynamics))
        if (vocab.timbre[t], vocab.dynamics[v]) != ("cello", "ff")
    ]
    rows = rows * 2
    n = len(rows)
    split = np.zeros(n, np.int8)
    split[-6:-3], split[-3:] = 1, 2
    duration = np.array([i % (len(vocab.duration) - 1) for i in range(n)])
    duration[split > 0] = len(vocab.duration) - 1
    labels = {
        "timbre": np.array([r[0] for r in rows]),
        "pitch": np.array([r[1] for r in rows]),
        "dynamics": np.array([r[2] for r in rows]),
        "duration": duration,
    }
    peak = np.array(
        [LEVEL.get(vocab.timbre[t], -10.0) + DYNAMICS_DB.get(vocab.dynamics[v], -10.0 * v) for t, _, v in rows]
    ) + rng.normal(0, 0.5, n)
    mels = rng.random((n, *mel_shape)).astype(np.float32)
    write_cache(
        root,
        mels,
        labels,
        split,
        peak,
        duration_s=np.array(vocab.duration)[duration],
        source_ids=[f"synthetic/{i}" for i in range(n)],
        vocab=vocab,
        mel_settings=PAPER_MEL,
        manifest_extra={"corpus": {"kind": "synthetic", "root": "nowhere"}, "fingerprint": {"files": "x"}},
    )
    return NoteCache.load(root)


def train_run(run_dir: Path, cache_root: Path, variant: str, model: ModelConfig = TINY) -> Path:
    config = TrainConfig(variant=variant, cache=str(cache_root), max_epochs=1, batch_size=8, num_threads=1, model=model)
    Trainer(config, run_dir).fit()
    return run_dir


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(directory: Path) -> dict[str, str]:
    return {p.name: sha(p) for p in sorted(directory.iterdir())}


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cache") / "tiny-corpus"
    build_cache(root)
    return root


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, cache_root) -> Path:
    return train_run(tmp_path_factory.mktemp("runs") / "tiny-gm", cache_root, "md-gmvae+c+r")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, run_dir) -> Path:
    return export_bundle(run_dir, tmp_path_factory.mktemp("bundles") / "tiny", ExportOptions())


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


# ---------------------------------------------------------------- round trip and facts


def test_exported_bundle_loads_and_decodes_like_torch(bundle, run_dir):
    _assert_decodes_like_torch(bundle, run_dir)


def test_a_harmonic_decoder_exports_and_decodes_like_torch(cache_root, tmp_path):
    """Its checkpoint carries the mel settings the partials need; the ONNX graph renders them."""
    harmonic = dataclasses.replace(TINY, decoder_output="harmonic", partials=8, pitch_hidden=8)
    run = train_run(tmp_path / "tiny-harmonic", cache_root, "md-gmvae+c+r", harmonic)
    bundle = export_bundle(run, tmp_path / "harmonic", ExportOptions())
    _assert_decodes_like_torch(bundle, run)
    _assert_direct_synthesis_plays_the_key(bundle, tmp_path / "direct")


def _assert_direct_synthesis_plays_the_key(bundle: Path, out: Path) -> None:
    """`rtsynth export-synthesis` on a freshly exported harmonic decoder: its partials and noise
    become outputs (the surgery itself checks the mel unchanged) and the engine plays a key
    from them at exactly its f0."""
    from rtsynth.dsp.fidelity import f0_error_cents, partial_cents, sounding_span
    from rtsynth.dsp.pitch import midi_hz
    from rtsynth.engine.backends import OfflineRenderer
    from rtsynth.engine.config import EngineConfig
    from rtsynth.render import NoteRequest, note_events

    assert main(["export-synthesis", str(bundle), "--out", str(out)]) == 0
    spec = read_spec(out)
    assert spec.synthesis["partials"] == 8
    timbre = spec.descriptors["timbre"].classes[0]
    audio = OfflineRenderer(out, EngineConfig(samplerate=48000)).render(note_events(NoteRequest(64, 100, 0.5, timbre)))
    start, _ = sounding_span(audio, 48000)
    held = audio[int((start + 0.05) * 48000) : int((start + 0.4) * 48000)]
    assert abs(f0_error_cents(partial_cents(held, 48000, midi_hz(64)))) < 1.0


def _assert_decodes_like_torch(bundle: Path, run_dir: Path) -> None:
    model = load_model(bundle)
    run = load_run(run_dir)
    spec = model.spec
    means = {d: spec.means(d) for d in DESCRIPTORS}
    latents = parity_latents(means, {d: 0 for d in DESCRIPTORS}, seed=7)
    for name, z in latents.items():
        with torch.no_grad():
            expected = run.model.decode(torch.from_numpy(z)).numpy()
        got = model.decode(z)
        assert got.shape == (len(z), 256, 256), name
        assert np.abs(got - expected).max() <= 1e-4, name


def test_bundle_spec_carries_the_run_and_corpus_facts(bundle, run_dir, cache_root):
    spec = read_spec(bundle)
    run = load_run(run_dir)
    cache = NoteCache.load(cache_root)
    assert spec.name == "tiny" and spec.mel == PAPER_MEL
    assert spec.vocab == VOCAB
    centroids = bundle_priors(run).means
    for d in DESCRIPTORS:
        assert spec.descriptors[d].sigma == 1.0
        if d != "duration":  # every other class has training notes: their centroids, as exported
            np.testing.assert_allclose(spec.means(d), centroids[d], atol=1e-5)
    assert spec.model["means"] == "centroid"
    # the longest duration class has no training note: its mean comes from its neighbour, not the init
    assert spec.model["filled_means"] == {"duration": [2.0]}
    np.testing.assert_allclose(spec.means("duration")[3], spec.means("duration")[2])
    assert spec.velocity_to_dynamics == {"pp": 33, "mf": 80, "ff": 112}
    t, v = cache.labels["timbre"], cache.labels["dynamics"]
    flute_pp = cache.peak_db[(t == 0) & (v == 0)].mean()
    assert spec.loudness_db["flute"]["pp"] == pytest.approx(flute_pp, abs=0.01)
    assert spec.corpus["loudness_filled"] == ["cello/ff"]
    cello = spec.loudness_db["cello"]
    assert cello["pp"] < cello["mf"] < cello["ff"] < spec.loudness_db["flute"]["ff"]
    assert spec.corpus["name"] == "tiny-corpus" and spec.corpus["kind"] == "synthetic"
    assert spec.corpus["notes"] == len(cache) and spec.corpus["pitch_range"] == [60, 62]
    assert spec.corpus["timbre_pitch_ranges"] == {"flute": [60, 62], "cello": [60, 62]}
    # tuning: every key measured for the tuning table, both ends of each range checked after it
    # (a tiny untrained model: in tune or not)
    tuning = spec.metrics["tuning"]
    assert tuning["notes"] == 4 and set(tuning["per_timbre"]) == {"flute", "cello"}
    assert 0 <= tuning["in_tune"] <= 1 and tuning["in_tune_cents"] == 50
    assert tuning["model_alone"]["notes"] == 6
    assert set(spec.tuning_cents) == {"flute", "cello"} and all(len(v) == 3 for v in spec.tuning_cents.values())
    assert len(spec.corpus["cache_fingerprint"]) == 64
    assert spec.model["variant"] == "md-gmvae+c+r" and spec.model["run"] == "tiny-gm" and spec.model["epoch"] == 1
    assert spec.model["config"]["model"]["hidden"] == 16
    assert spec.model["parity"]["max_abs_error"] <= 1e-4 and spec.model["parity"]["latents"] > 20
    assert spec.metrics["source"] == "training" and spec.metrics["epoch"] == 1
    assert sum(k.startswith("val_") for k in spec.metrics) >= 4  # the validation losses of that epoch
    assert spec.vocoder["kind"]


def test_decoder_onnx_has_dynamic_batch_metadata_and_a_loadable_ir(bundle):
    proto = onnx.load(str(bundle / "decoder.onnx"))
    meta = {p.key: p.value for p in proto.metadata_props}
    expected = dict(zip(METADATA_KEYS, (str(BUNDLE_VERSION), str(LATENT_SIZE), "256", "256")))
    assert {k: meta.get(k) for k in METADATA_KEYS} == expected
    assert meta["rtsynth.variant"] == "md-gmvae+c+r" and meta["rtsynth.name"] == "tiny"
    assert meta["rtsynth.corpus"] == "tiny-corpus"
    (z,), (mel,) = proto.graph.input, proto.graph.output
    dims = lambda value: [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]  # noqa: E731
    assert z.name == "z" and isinstance(dims(z)[0], str) and dims(z)[1:] == [LATENT_SIZE]
    assert isinstance(dims(mel)[0], str) and dims(mel)[1:] == [256, 256]
    assert next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17
    assert proto.ir_version <= 13  # what onnxruntime 1.31 reads


# ---------------------------------------------------------------- parity and atomic writes


def test_parity_check_detects_a_decoder_that_differs(bundle, run_dir):
    session = load_model(bundle).session
    onnx_decode = lambda z: session.run(None, {"z": z})[0]  # noqa: E731
    model = load_run(run_dir).model
    latents = parity_latents({d: read_spec(bundle).means(d) for d in DESCRIPTORS}, {d: 1 for d in DESCRIPTORS})
    assert check_parity(model.decode, onnx_decode, latents).max_abs_error <= 1e-4
    with torch.no_grad():
        model.decoder.head.output.bias.add_(1e-3)  # the torch model drifts after export
    with pytest.raises(ParityError, match="differs from torch"):
        check_parity(model.decode, onnx_decode, latents)


@pytest.mark.slow
def test_failed_parity_writes_no_bundle(run_dir, tmp_path):
    out = tmp_path / "bundles" / "strict"
    with pytest.raises(ParityError):
        export_bundle(run_dir, out, ExportOptions(tolerance=0.0))
    assert not out.exists()
    assert leftovers(out.parent) == []


def test_refuses_to_overwrite_without_force(run_dir, bundle, tmp_path):
    before = snapshot(bundle)
    with pytest.raises(BundleExistsError, match="--force"):
        export_bundle(run_dir, bundle)
    assert snapshot(bundle) == before
    (tmp_path / "file").write_text("x")
    with pytest.raises(BundleExistsError, match="not a directory"):
        export_bundle(run_dir, tmp_path / "file", ExportOptions(force=True))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    with pytest.raises(BundleExistsError, match="not a bundle"):  # --force never wipes a random directory
        export_bundle(run_dir, tmp_path / "notes", ExportOptions(force=True))
    assert (tmp_path / "notes" / "todo.txt").read_text() == "keep me"


@pytest.mark.slow
def test_cli_export_end_to_end(run_dir, bundle, tmp_path):
    out = tmp_path / "bundles" / "mine"
    shutil.copytree(bundle, out)
    before = snapshot(out)
    assert main(["export", str(run_dir), "--out", str(out)]) == 1  # exists, no --force
    assert main(["export", str(run_dir), "--out", str(out), "--force", "--tolerance", "0"]) == 1  # parity fails
    assert snapshot(out) == before and leftovers(out.parent) == []  # the old bundle is untouched
    assert main(["export", str(run_dir), "--out", str(out), "--force", "--name", "renamed"]) == 0
    model = load_model(out)
    assert model.spec.name == "renamed" and model.spec.model["means"] == "centroid"  # the default
    assert model.decode(np.zeros((2, LATENT_SIZE), np.float32)).shape == (2, 256, 256)
    assert leftovers(out.parent) == []
    assert main(["export", str(tmp_path / "no-run"), "--out", str(tmp_path / "x")]) == 1
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------- facts without an export


def test_classes_sit_at_the_training_centroids(cache_root, tmp_path):
    run = load_run(train_run(tmp_path / "tiny-md", cache_root, "md-vae+c"))
    priors = bundle_priors(run)
    assert set(priors.sigma.values()) == {1.0}
    train = run.cache.indices("train")
    with torch.no_grad():
        mu = run.model.encode(torch.from_numpy(np.asarray(run.cache.mels[train], np.float32)))
    for d in DESCRIPTORS:
        labels = run.cache.labels[d][train]
        for k in np.unique(labels):
            np.testing.assert_allclose(priors.means[d][k], mu[d][0].numpy()[labels == k].mean(0), atol=1e-5)
        assert np.isfinite(priors.means[d]).all()
    assert priors.filled == {"duration": [2.0]}


def test_unknown_dynamics_are_placed_by_loudness(tmp_path):
    vocab = Vocabulary(timbre=("flute",), pitch=(60,), dynamics=("pp", "ff", "fp", "ppp"), duration=(1.0, 2.0))
    cache = build_cache(tmp_path / "c", vocab, mel_shape=(4, 4))
    # levels: ppp -30 < pp -22 < fp -20 < ff 0 (the build_cache fallback is -10 dB per class index)
    mapping = velocity_mapping(cache)
    assert mapping["pp"] == 33 and mapping["ff"] == 112
    assert 1 < mapping["ppp"] < 33 < mapping["fp"] < 112


def test_bundle_metrics_prefer_the_evaluation_report(tmp_path):
    (tmp_path / "metrics.csv").write_text("epoch,train_total,val_monitor,val_acc_timbre\n1,5,4.5,0.5\n2,4,nan,0.75\n")
    assert bundle_metrics(tmp_path, 2) == {
        "source": "training",
        "epoch": 2,
        "val_monitor": None,
        "val_acc_timbre": 0.75,
    }
    report = {
        "run": "/abs/path",
        "cache": "/abs/cache",
        "seconds": {"encode": 1.0},
        "figures": ["a.png"],
        "table_one": {"acc_timbre": 0.9},
        "independent_classifier": {"path": "/x", "accuracy": {"timbre": 1}},
    }
    (tmp_path / "metrics.json").write_text(json.dumps(report))
    assert bundle_metrics(tmp_path, 2) == {
        "source": "rtsynth eval",
        "table_one": {"acc_timbre": 0.9},
        "independent_classifier": {"accuracy": {"timbre": 1}},
    }
