"""`rtsynth eval` of a paper-001 run (variant "tanaka-3f"): its k-NN (k = 5) measures.

Global: z_t of each note against the note's labels. Frame-wise: every sounding frame of z_p
and z_v is a sample carrying its note's labels (the paper's local features), fitted on training
frames and scored on test frames. Ideally only z_t names the instrument and only z_p the
pitch. With re-entry training (paper 002) the same measures are taken on the latents of the
"large" encoder (both passes) beside the "small" one (one pass on the clean note).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from rtsynth.labels import DESCRIPTORS
from rtsynth.train.eval.leakage import knn_accuracy
from rtsynth.train.eval.report import run_header, write_report

log = logging.getLogger(__name__)

K = 5
MAX_TRAIN_FRAMES = 20000
MAX_TEST_FRAMES = 5000
LABELS = ("timbre", "pitch", "dynamics")  # the labels the paper's tables ask for (instrument, pitch), and dynamics
PUBLISHED = {  # paper 001, Table II, three factors, pitched notes: k-NN accuracies and MSE
    "mse": 0.553,
    "timbre": {"timbre": 0.974, "pitch": 0.107},
    "variation": {"timbre": 0.340, "pitch": 0.024},
    "pitch": {"timbre": 0.395, "pitch": 0.751},
}
PUBLISHED_TIMBRE = {  # z_t instrument k-NN: paper 001 Table II; paper 002 Table 6 (re-entry, small encoder)
    False: 0.974,
    True: 0.921,
}


def _headline(reentry: bool, timbre_knn: float) -> dict:
    """z_t's instrument k-NN, the number both papers lead with, beside the one each published."""
    source = "paper 002 Table 6" if reentry else "paper 001 Table II"
    return {"name": f"z_t instrument k-NN ({source})", "value": timbre_knn, "published": PUBLISHED_TIMBRE[reentry]}


def sounding_frames(mels: np.ndarray, pool: int, level: float = 0.05) -> np.ndarray:
    """[n, T'] bool: pooled frames whose loudest bin reaches `level` (not silence)."""
    n, m, t = mels.shape
    pooled = mels.reshape(n, m, t // pool, pool).mean(axis=3)
    return pooled.max(axis=1) >= level


def frame_samples(z: np.ndarray, frames: int, sounding: np.ndarray, labels: np.ndarray, limit: int, rng):
    """Flattened per-note latents [n, T' * D] -> sounding frames [f, D] and their notes' labels [f, 4]."""
    per_frame = z.reshape(len(z), frames, -1)
    note, frame = np.nonzero(sounding)
    if len(note) > limit:
        keep = np.sort(rng.choice(len(note), size=limit, replace=False))
        note, frame = note[keep], frame[keep]
    return per_frame[note, frame], labels[note]


def knn_table(model, train, test, train_mels: np.ndarray, test_mels: np.ndarray, seed: int) -> dict[str, dict]:
    """k-NN accuracy of each latent (global z_t, frame-wise z_v and z_p) for each label."""
    rng = np.random.default_rng(seed)
    pool, frames = model.tanaka.time_pool, model.frames
    s_train, s_test = sounding_frames(train_mels, pool), sounding_frames(test_mels, pool)
    table = {}
    for name, key in (("timbre", "timbre"), ("variation", "dynamics"), ("pitch", "pitch")):
        if key == "timbre":
            a, ya, b, yb = train.mu[key], train.labels, test.mu[key], test.labels
        else:
            a, ya = frame_samples(train.mu[key], frames, s_train, train.labels, MAX_TRAIN_FRAMES, rng)
            b, yb = frame_samples(test.mu[key], frames, s_test, test.labels, MAX_TEST_FRAMES, rng)
        table[name] = {
            label: _knn(a, ya[:, DESCRIPTORS.index(label)], b, yb[:, DESCRIPTORS.index(label)]) for label in LABELS
        }
    return table


def _knn(a: np.ndarray, ya: np.ndarray, b: np.ndarray, yb: np.ndarray) -> float | None:
    """k-NN accuracy; None for a label with a single class (an unlabelled corpus's placeholders)."""
    return knn_accuracy(a, ya, b, yb, K) if len(np.unique(ya)) > 1 else None


def note_means(model, split) -> dict[str, np.ndarray]:
    """z_t and the frame means of z_p and z_v per note: the shared k-NN leakage's inputs."""
    return {d: m if d == "timbre" else m.reshape(len(m), model.frames, -1).mean(axis=1) for d, m in split.mu.items()}


@torch.no_grad()
def encode_large(model, cache, indices: np.ndarray, batch_size: int = 32):
    """Paper 002's large encoder: the latents of the second pass, run on the first pass's reconstruction."""
    from rtsynth.train.eval.latents import SplitLatents, batched, load_mels

    mus: dict[str, list] = {d: [] for d in model.layout.names}
    for rows in batched(len(indices), batch_size):
        first = model(torch.from_numpy(load_mels(cache, indices[rows])), sample=False)
        second = model.reentry(first, sample=False)
        for d, (mu, _) in second.posteriors.items():
            mus[d].append(mu.numpy())
    return SplitLatents(indices, {d: np.concatenate(v) for d, v in mus.items()}, cache.label_matrix(indices))


def evaluate_tanaka(run, options) -> dict:
    """The k-NN tables, shared leakage, cluster measures and the reconstruction error."""
    from rtsynth.train.eval.clusters import cluster_stats
    from rtsynth.train.eval.latents import encode_splits, load_mels
    from rtsynth.train.eval.leakage import leakage_matrix

    run_dir = Path(run.run_dir)
    torch.manual_seed(options.seed)
    model, cache = run.model.eval(), run.cache
    splits = encode_splits(model, cache, options.max_train_notes, np.random.default_rng(options.seed))
    test, train = splits.test, splits.train
    test_idx, train_idx = test.indices, train.indices
    mels = load_mels(cache, train_idx), load_mels(cache, test_idx)
    knn = {"small": knn_table(model, train, test, *mels, options.seed)}
    if model.tanaka.reentry:
        train_large, test_large = (encode_large(model, cache, idx) for idx in (train_idx, test_idx))
        knn["large"] = knn_table(model, train_large, test_large, *mels, options.seed)
    own = knn["small"]
    metrics = run_header(run, options.which, splits) | {
        "table_one": {
            "accuracy": {
                "timbre": own["timbre"]["timbre"],
                "pitch": own["pitch"]["pitch"],
                "dynamics": own["variation"]["dynamics"],
                "duration": None,
            },
            "recon_mse": float(np.mean(test.recon_errors())),
            "n_test": len(test),
            "measured_by": "k-NN (k=5): z_t global, z_p and z_v frame-wise",
        },
        "leakage": leakage_matrix(
            note_means(model, train), train.labels, note_means(model, test), test.labels
        ).to_dict(),
        "clusters": cluster_stats(note_means(model, test), test.labels),
        "paper_001": {"knn": knn, "published_table_2": PUBLISHED, "reentry": model.tanaka.reentry},
        "headline": _headline(model.tanaka.reentry, own["timbre"]["timbre"]),
    }
    write_report(run_dir, metrics, report)
    return metrics


def report(m: dict) -> str:
    p = m["paper_001"]
    lines = [
        f"# {m['variant']}: {Path(m['run']).name} (epoch {m['epoch']}{', re-entry' if p['reentry'] else ''})",
        "",
        f"Reconstruction MSE on {m['counts']['test']} test notes: {m['table_one']['recon_mse']:.4f} "
        f"(published, on log-amplitude spectra: {p['published_table_2']['mse']}).",
        "",
    ]
    for encoder, table in p["knn"].items():
        lines += [
            f"## k-NN (k={K}) accuracy, {encoder} encoder (rows: latent; published Table II in brackets)",
            "",
            "| latent | instrument | pitch | dynamics |",
            "|---|---|---|---|",
        ]
        for latent, row in table.items():
            pub = p["published_table_2"][latent]
            lines.append(
                f"| {latent} | {_f(row['timbre'])} ({pub['timbre']}) | {_f(row['pitch'])} ({pub['pitch']}) "
                f"| {_f(row['dynamics'])} |"
            )
        lines.append("")
    lines.append("A dash: the corpus has one class of that label (an unlabelled corpus), nothing to measure.")
    return "\n".join(lines)


def _f(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"
