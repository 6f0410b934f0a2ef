"""Evaluation: leakage, clusters, the independent classifier, and `rtsynth eval` / `compare`
end to end on a tiny synthetic cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rtsynth.labels import DESCRIPTORS, Vocabulary
from rtsynth.settings import PAPER_MEL
from rtsynth.train.eval.clusters import cluster_stats, denseness, divergence
from rtsynth.train.eval.leakage import chance_level, knn_accuracy, leakage_matrix
from rtsynth.train.prep.cache import NoteCache, write_cache

VOCAB = Vocabulary(
    timbre=("flute", "cello", "trumpet"), pitch=(48, 50, 52, 53), dynamics=("pp", "mf", "ff"), duration=(1.0, 2.0, 3.0)
)
FRAMES_PER_SECOND = PAPER_MEL.sample_rate / PAPER_MEL.hop_length


def synthetic_mel(t: int, p: int, v: int, d: int, rng) -> np.ndarray:
    """A harmonic note whose spectrum and envelope carry its four labels.

    Pitch moves the harmonics, timbre shapes their amplitudes, dynamics brightens the upper
    harmonics, duration sets how long the note sounds.
    """
    n_mels, n_frames = PAPER_MEL.n_mels, PAPER_MEL.n_frames
    bins = np.arange(n_mels)[:, None]
    f0 = 12 + 10 * p
    profile = {0: lambda h: 1.0 if h == 1 else 0.15, 1: lambda h: 0.85**h, 2: lambda h: 1.0 if h % 2 else 0.2}[t]
    spectrum = sum(
        profile(h) * (0.55 + 0.2 * v) ** (h - 1) * np.exp(-0.5 * ((bins - f0 * h) / 1.5) ** 2)
        for h in range(1, 9)
        if f0 * h < n_mels
    )
    frames = np.arange(n_frames)[None, :]
    end = 4 + VOCAB.duration[d] * FRAMES_PER_SECOND
    envelope = np.clip((frames - 2) / 2, 0, 1) * np.clip(1 - (frames - end) / 6, 0, 1)
    level_db = 20 * np.log10(spectrum / spectrum.max() * envelope + 1e-4)  # 0 dB at the peak
    mel = np.clip(1 + level_db / PAPER_MEL.db_range, 0, 1)  # as the cache stores mels
    return np.clip(mel + 0.03 * rng.random(mel.shape), 0, 1).astype(np.float32)


def build_cache(root: Path, seed: int = 0) -> NoteCache:
    """Every label combination once (108 notes), split about 60/15/25."""
    rng = np.random.default_rng(seed)
    combos = np.array(np.meshgrid(*(range(n) for n in VOCAB.sizes().values()), indexing="ij")).reshape(4, -1).T
    mels = np.stack([synthetic_mel(*c, rng) for c in combos])
    split = rng.choice(3, size=len(combos), p=[0.6, 0.15, 0.25]).astype(np.int8)
    write_cache(
        root,
        mels,
        {d: combos[:, j] for j, d in enumerate(DESCRIPTORS)},
        split,
        peak_db=np.zeros(len(combos)),
        duration_s=np.array([VOCAB.duration[c[3]] for c in combos]),
        source_ids=[f"synthetic/{i}" for i in range(len(combos))],
        vocab=VOCAB,
        mel_settings=PAPER_MEL,
        manifest_extra={"source": "tests/test_eval.py"},
    )
    return NoteCache.load(root)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> NoteCache:
    return build_cache(tmp_path_factory.mktemp("cache"))


# ---------------------------------------------------------------- leakage and clusters


def _labelled_latents(n: int, centre_t: np.ndarray, centre_p: np.ndarray, rng) -> tuple[dict, np.ndarray]:
    """z_T encodes timbre and pitch, z_P encodes pitch only, z_V and z_D are pure noise."""
    labels = np.stack([rng.integers(0, k, n) for k in (3, 4, 3, 3)], axis=1)
    mu = {
        "timbre": centre_t[labels[:, 0]] + np.pad(centre_p[labels[:, 1]], ((0, 0), (0, 4))) + rng.normal(size=(n, 8)),
        "pitch": centre_p[labels[:, 1]] + rng.normal(size=(n, 4)),
        "dynamics": rng.normal(size=(n, 4)),
        "duration": rng.normal(size=(n, 4)),
    }
    return mu, labels


def test_leakage_matrix_reads_information_where_it_is_and_chance_where_it_is_not():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(3, 8)) * 10, rng.normal(size=(4, 4)) * 10
    train_mu, train_y = _labelled_latents(900, *centres, rng)
    test_mu, test_y = _labelled_latents(600, *centres, rng)
    leak = leakage_matrix(train_mu, train_y, test_mu, test_y, k=5)
    T, P, V, D = range(4)
    assert leak.matrix.shape == (4, 4)
    assert leak.matrix[T, T] > 0.97 and leak.matrix[P, P] > 0.97
    assert leak.matrix[T, P] > 0.97  # z_T carries pitch too: the matrix is read latent -> label
    assert abs(leak.matrix[P, T] - leak.chance[T]) < 0.08  # ... but z_P does not carry timbre
    for latent in (V, D):
        for label in range(4):
            assert abs(leak.matrix[latent, label] - leak.chance[label]) < 0.08
    assert np.all((leak.chance > 0) & (leak.chance <= 1))
    excess = leak.excess()
    assert leak.mean_off_diagonal_excess() == pytest.approx(excess[~np.eye(4, dtype=bool)].mean())


def test_chance_level_is_the_majority_rate():
    assert chance_level(np.array([0, 0, 0, 1, 2, 2])) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="empty"):
        chance_level(np.array([], dtype=np.int64))


def test_knn_with_fewer_training_points_than_k():
    x = np.array([[0.0], [10.0]])
    assert knn_accuracy(x, np.array([0, 1]), np.array([[0.1]]), np.array([0]), k=5) in (0.0, 1.0)


def test_denseness_and_divergence_follow_paper_004():
    # class 0 at +-1 around (0, 0), class 1 at +-3 around (10, 0), class 2 at (0, 20)
    z = np.array([[1, 0], [-1, 0], [13, 0], [7, 0], [0, 20]], dtype=float)
    y = np.array([0, 0, 1, 1, 2])
    assert denseness(z, y) == pytest.approx((1 + 3 + 0) / 3)
    assert divergence(z, y) == pytest.approx((10 + 20 + np.hypot(10, 20)) / 3)
    assert divergence(z[:2], y[:2]) is None
    stats = cluster_stats({d: np.tile(z, (1, 2)) for d in DESCRIPTORS}, np.stack([y] * 4, axis=1))
    assert stats["timbre"]["classes"] == 3
    assert stats["timbre"]["ratio"] == pytest.approx(stats["timbre"]["divergence"] / stats["timbre"]["denseness"])


# ---------------------------------------------------------------- the independent classifier


def test_classifier_is_trained_once_per_cache_and_reloaded(cache, tmp_path):
    from rtsynth.train.eval.classifier import ClassifierConfig, cache_key, load_or_train

    config = ClassifierConfig(epochs=1)
    first = load_or_train(cache, tmp_path, config)
    stamp = first.path.stat().st_mtime_ns
    again = load_or_train(cache, tmp_path, config)
    assert again.path == first.path and again.path.stat().st_mtime_ns == stamp  # loaded, not retrained
    assert again.info["key"] == cache_key(cache, config) != cache_key(cache, ClassifierConfig(epochs=2))
    for split in ("train", "val", "test"):
        assert all(0 <= a <= 1 for a in again.info["accuracy"][split].values())
    probs = again.probabilities(np.asarray(cache.mels[:5], dtype=np.float32))
    for d in DESCRIPTORS:
        assert probs[d].shape == (5, VOCAB.sizes()[d])
        np.testing.assert_allclose(probs[d].sum(axis=1), 1.0, rtol=1e-5)


# ---------------------------------------------------------------- `rtsynth eval` and `compare` end to end

TINY_TRAIN = """
variant = "{variant}"
cache = "{cache}"
batch_size = 16
max_epochs = 2
num_threads = 1
[beta]
epochs = 1
[remover_weight]
delay = 0
epochs = 1
[model]
decoder_output = "mel"
encoder_channels = [4, 8]
decoder_channels = [8, 4]
hidden = 32
head_hidden = 16
classifier_hidden = 16
remover_hidden = [16]
"""
EVAL_ARGS = [
    "--classifier-epochs",
    "1",
    "--tsne-points",
    "40",
    "--control-refs",
    "8",
    "--transfer-notes",
    "3",
    "--pitch-notes",
    "12",
]


@pytest.fixture(scope="module")
def evaluated_runs(cache, tmp_path_factory) -> list[Path]:
    """Two tiny variants trained for two epochs by `rtsynth train`, then `rtsynth eval`-ed."""
    from rtsynth.cli import main

    root = tmp_path_factory.mktemp("runs")
    runs = []
    for variant in ("md-gmvae+c+r", "vae+c"):
        config = root / f"{variant}.toml"
        config.write_text(TINY_TRAIN.format(variant=variant, cache=cache.root))
        run = root / variant
        assert main(["train", "--config", str(config), "--out", str(run)]) == 0
        assert main(["eval", str(run), *EVAL_ARGS]) == 0
        runs.append(run)
    return runs


def _probability(x) -> bool:
    return x is not None and 0.0 <= x <= 1.0


def _check_reconstruction_pitch(pitch: dict, n_test: int, report: str) -> None:
    """Scored and reported (this cache's mels are drawn, not played, so no pitch is expected;
    the measurement itself is tested on real tones below)."""
    assert pitch["notes"] == min(12, n_test)
    assert _probability(pitch["original_in_tune"]) and _probability(pitch["reconstruction_in_tune"])
    section = report.split("## Pitch of reconstructions")[1].split("\n## ")[0]
    assert f"| original | {pitch['original_in_tune']:.3f} |" in section


@pytest.mark.slow
def test_eval_writes_report_metrics_and_figures_in_range(evaluated_runs):
    for run in evaluated_runs:
        m = json.loads((run / "metrics.json").read_text())
        assert m["variant"] == run.name and m["counts"]["test"] > 0
        assert all(_probability(a) for a in m["table_one"]["accuracy"].values())
        assert m["table_one"]["recon_mse"] >= 0
        leak = np.array(m["leakage"]["accuracy"])
        assert leak.shape == (4, 4) and np.all((leak >= 0) & (leak <= 1))
        assert all(0 < c <= 1 for c in m["leakage"]["chance"])
        assert -1 <= m["leakage"]["mean_off_diagonal_excess"] <= m["leakage"]["max_off_diagonal_excess"] <= 1
        for stats in m["clusters"].values():
            assert stats["denseness"] >= 0 and stats["divergence"] >= 0 and stats["classes"] >= 2
        assert all(_probability(a) for acc in m["independent_classifier"]["accuracy"].values() for a in acc.values())
        control = m["controllability"]
        assert control["spreads"] == [0.0, 0.5, 1.0]
        assert control["class_means"] == ("prior" if "gmvae" in m["variant"] else "centroid")
        for d in DESCRIPTORS:
            for w in control["spreads"]:
                cell = control["single"][d][str(w)]
                assert _probability(cell["asked"]) and _probability(cell["kept"])
                assert _probability(control["joint"]["accuracy"][str(w)][d])
        _check_through_audio(control, (run / "report.md").read_text())
        _check_reconstruction_pitch(m["reconstruction_pitch"], m["counts"]["test"], (run / "report.md").read_text())
        transfer = m["transfer"]
        assert len(transfer["target_posterior_mean"]) == len(transfer["alphas"]) == 5
        assert all(_probability(p) for p in transfer["target_posterior_mean"])
        assert len(transfer["per_pair_target_posterior"]) == 6  # 3 instruments, ordered pairs
        assert isinstance(transfer["monotonic"], bool)
        report = (run / "report.md").read_text()
        assert "## Table I" in report and "## Leakage" in report and "## Timbre transfer" in report
        for figure in m["figures"]:
            assert (run / figure).stat().st_size > 1000 and f"]({figure})" in report
        names = {Path(f).name for f in m["figures"]}
        assert {
            "tsne.png",
            "interpolation.png",
            "reconstructions.png",
            "leakage.png",
            "transfer.png",
            "controllability.png",
            *(f"sweeps_{d}.png" for d in DESCRIPTORS),
        } <= names


def _check_through_audio(control: dict, report: str) -> None:
    """Every generated note went through the vocoder; each through-audio cell is a probability
    and appears in the report's table."""
    from rtsynth.vocoder import DEFAULT_VOCODER

    audio, spreads = control["through_audio"], [str(w) for w in control["spreads"]]
    assert audio["vocoder"] == DEFAULT_VOCODER
    assert audio["notes"] == len(spreads) * (len(DESCRIPTORS) * control["n_refs"] + audio["joint"]["n"])
    assert 0 <= audio["silent"] == sum(audio["silent_reasons"].values()) <= audio["notes"]
    section = report.split("## Controllability through audio")[1].split("\n## ")[0]
    for d in DESCRIPTORS:
        for w in spreads:
            cell = audio["single"][d][w]
            assert _probability(cell["asked"]) and _probability(cell["kept"])
            assert 0 <= cell["silent"] <= control["n_refs"]
            assert _probability(audio["joint"]["accuracy"][w][d])
            assert f"{cell['asked']:.3f}" in section and f"{control['single'][d][w]['asked']:.3f}" in section
    assert f"{audio['silent']} of {audio['notes']}" in section


@pytest.mark.slow
def test_compare_builds_one_table_over_runs(evaluated_runs, tmp_path):
    from rtsynth.cli import main

    out = tmp_path / "table.md"
    # the bench's summary beside a run is quoted (here the shipped bundle's: the tiny runs have no GM-SOL timbres)
    bench = ["--timbres", "flute", "--pitch-range", "72", "72", "--dynamics", "mf", "--durations", "0.5"]
    assert main(["bench", "fidelity", *bench, "--out", str(evaluated_runs[1] / "fidelity")]) == 0
    fidelity = json.loads((evaluated_runs[1] / "fidelity" / "fidelity.json").read_text())["summary"]
    assert main(["compare", *map(str, evaluated_runs), "--out", str(out)]) == 0
    lines = out.read_text().strip().splitlines()
    assert len(lines) == 2 + len(evaluated_runs)  # header, rule, one row per run
    assert "T acc" in lines[0] and "recon MSE" in lines[0] and "leakage above chance" in lines[0]
    assert lines[2].split("|")[2].strip() == "vae+c"  # Table I order: the plain VAE first
    assert lines[3].split("|")[2].strip() == "md-gmvae+c+r"
    metrics = json.loads((evaluated_runs[0] / "metrics.json").read_text())
    assert f"{metrics['table_one']['accuracy']['timbre']:.3f}" in lines[3]
    header = [cell.strip() for cell in lines[0].split("|")[1:-1]]
    assert header[-2:] == ["the paper's headline measure", "published"]
    assert "T k-NN ↑" in header and "D k-NN ↑" in header
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in lines[2:]]
    epochs = {run.name: len((run / "metrics.csv").read_text().splitlines()) - 1 for run in evaluated_runs}
    assert {row[0]: int(row[header.index("epochs")]) for row in rows} == epochs
    heard = metrics["controllability"]["through_audio"]["joint"]["accuracy"]["0.0"]
    by_run = {row[0]: row for row in rows}
    assert by_run[evaluated_runs[0].name][header.index("asked T/P/V/D through audio ↑")] == " / ".join(
        f"{heard[d]:.2f}" for d in ("timbre", "pitch", "dynamics", "duration")
    )
    assert metrics["headline"]["published"] == 1.0  # paper 000's MD-GMVAE+C+R row
    assert by_run[evaluated_runs[0].name][-1] == "1.000"
    quoted = f"{100 * fidelity['f0_within_5_cents']:.0f} %, {fidelity['log_mel_median_db']:.1f} dB"
    assert by_run[evaluated_runs[1].name][header.index("fidelity: keys in tune, log-mel")] == quoted
    assert by_run[evaluated_runs[0].name][header.index("fidelity: keys in tune, log-mel")] == "–"


def test_eval_and_compare_name_what_is_missing(tmp_path, caplog):
    from rtsynth.cli import main

    assert main(["eval", str(tmp_path)]) == 2
    assert "not a run directory" in caplog.text
    assert main(["compare", str(tmp_path)]) == 2
    assert "no metrics.json" in caplog.text


# ---------------------------------------------------------------- controllability through audio


def test_a_note_silent_after_the_vocoder_counts_as_wrong(cache, tmp_path):
    """An all-zero mel vocodes to silence, which prep rejects: it must be named UNHEARD (wrong
    for every descriptor) and counted, while real notes beside it are heard and named."""
    from rtsynth.train.eval.classifier import ClassifierConfig, load_or_train
    from rtsynth.train.eval.controllability import UNHEARD, Judge, accuracy, silent_count
    from rtsynth.train.eval.through_audio import audio_route

    route = audio_route(cache)
    judge = Judge(model=None, classifier=load_or_train(cache, tmp_path, ClassifierConfig(epochs=1)), audio=route)
    real = np.asarray(cache.mels[:3], dtype=np.float32)
    mels = np.concatenate([np.zeros_like(real[:1]), real])
    asked = cache.label_matrix(np.array([0, 0, 1, 2]))
    named = judge.name(mels, asked)
    assert named["audio"].shape == named["mel"].shape == (4, len(DESCRIPTORS))
    assert np.all(named["audio"][0] == UNHEARD) and np.all(named["audio"][1:] >= 0)
    assert silent_count(named["audio"]) == 1 and silent_count(named["mel"]) == 0
    assert all(a == 0.0 for a in accuracy(named["audio"][:1], asked[:1]).values())
    assert route.summary()["notes"] == 4 and route.summary()["silent"] == 1
    assert list(route.summary()["silent_reasons"]) == ["silent"]


def test_pitch_of_a_mel_is_measured_through_the_vocoder():
    """A played tone's mel measures at its own pitch and three semitones off from a wrong label."""
    from rtsynth.dsp.mel import mel_power, power_to_unit
    from rtsynth.settings import PAPER_MEL
    from rtsynth.train.eval.recon_pitch import _errors

    sr, f0 = PAPER_MEL.sample_rate, 220.0  # MIDI 57
    t = np.arange(int(PAPER_MEL.note_seconds * sr)) / sr
    tone = sum(np.sin(2 * np.pi * h * f0 * t) / h for h in range(1, 6)) * np.exp(-t)
    mel, _ = power_to_unit(mel_power(tone.astype(np.float32), PAPER_MEL), PAPER_MEL.db_range)
    errors = _errors(np.stack([mel, mel]), np.array([57, 60]), PAPER_MEL)
    assert errors[0] <= 20 and abs(errors[1] - 300) <= 20, errors


def test_reanalysed_audio_gives_back_the_note_it_was_made_from(cache):
    """Real notes' mels -> vocoder -> prep land in the cache's own [0, 1] scale (peak at 1),
    each closer to the note it was made from than to any other: the route keeps what a note is."""
    from rtsynth.train.eval.through_audio import audio_route

    rows = np.arange(0, len(cache), 9)[:8]  # notes differing in every descriptor
    original = np.asarray(cache.mels[rows], dtype=np.float32)
    heard, again = audio_route(cache).reanalyse(original, cache.label_matrix(rows))
    assert heard.all() and again.shape == original.shape
    assert again.min() >= 0.0 and np.allclose(again.max(axis=(1, 2)), 1.0)
    distance = np.abs(again[:, None] - original[None]).mean(axis=(2, 3))
    np.testing.assert_array_equal(distance.argmin(axis=1), np.arange(len(rows)))
