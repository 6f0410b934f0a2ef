"""`rtsynth eval RUNDIR`: every measurement of one run, written as metrics.json, report.md, figures/."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rtsynth.labels import DESCRIPTORS

if TYPE_CHECKING:
    from rtsynth.train.runs import Checkpoint

log = logging.getLogger(__name__)


@dataclass
class EvalOptions:
    which: Checkpoint = "best"
    max_train_notes: int = 4000  # training notes encoded for k-NN and class centroids
    tsne_points: int = 600
    control_refs: int = 48
    transfer_notes: int = 12  # source notes per instrument pair
    recon_notes: int = 6
    pitch_notes: int = 120  # test notes whose reconstructions are vocoded and their f0 measured
    seed: int = 0
    classifier_epochs: int = 15
    classifier_root: Path | None = None  # where the classifier goes if the cache is read-only


class _Stages:
    """One progress-bar step per stage, with its wall time kept for metrics.json."""

    def __init__(self, total: int):
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc="eval", unit="step")
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str):
        start = time.perf_counter()
        self.bar.set_description(f"eval: {name}")
        yield
        self.seconds[name] = round(time.perf_counter() - start, 2)
        self.bar.update()


def evaluate_run(run_dir: str | Path, options: EvalOptions | None = None) -> dict:
    """Load RUNDIR's checkpoint and evaluate it; writes RUNDIR/metrics.json, report.md, figures/."""
    from rtsynth.train.runs import load_run

    options = options or EvalOptions()
    return evaluate(load_run(Path(run_dir), options.which), options)


def evaluate(run, options: EvalOptions) -> dict:
    """Evaluate a loaded run (train.runs.LoadedRun: run_dir, config, model, cache, epoch)."""
    if run.config.variant == "luo-gmvae":
        from rtsynth.train.eval.luo import evaluate_luo

        return evaluate_luo(run, options)
    if run.config.variant == "tanaka-3f":
        from rtsynth.train.eval.tanaka import evaluate_tanaka

        return evaluate_tanaka(run, options)
    return _evaluate_labelled(run, options)


def _evaluate_labelled(run, options: EvalOptions) -> dict:
    """Paper 000's variants (and paper 004's): Table I and every shared measure, with figures."""
    import torch

    from rtsynth.train.eval import classifier as independent
    from rtsynth.train.eval.classmeans import class_means
    from rtsynth.train.eval.clusters import cluster_stats
    from rtsynth.train.eval.controllability import controllability
    from rtsynth.train.eval.latents import encode_splits
    from rtsynth.train.eval.leakage import leakage_matrix
    from rtsynth.train.eval.recon_pitch import reconstruction_pitch
    from rtsynth.train.eval.report import run_header, write_report
    from rtsynth.train.eval.tableone import table_one
    from rtsynth.train.eval.through_audio import audio_route
    from rtsynth.train.eval.transfer import timbre_transfer

    run_dir = Path(run.run_dir)
    rng = np.random.default_rng(options.seed)
    torch.manual_seed(options.seed)
    model, cache = run.model.eval(), run.cache
    stage = _Stages(total=8)
    with stage("encode"):
        splits = encode_splits(model, cache, options.max_train_notes, rng)
        test, train = splits.test, splits.train
    with stage("leakage and clusters"):
        leak = leakage_matrix(train.mu, train.labels, test.mu, test.labels)
        clusters = cluster_stats(test.mu, test.labels)
        table = table_one(test)
    with stage("independent classifier"):
        # fixed seed: every run on this cache is judged by the same network, whatever --seed says
        config = independent.ClassifierConfig(epochs=options.classifier_epochs)
        clf = independent.load_or_train(cache, options.classifier_root or run_dir.parent / ".eval_classifiers", config)
    means = class_means(model, train, cache.vocab.sizes())
    with stage("controllability"):  # mel and through audio
        control = controllability(
            model, clf, test, means, n_refs=options.control_refs, seed=options.seed, audio=audio_route(cache)
        )
    with stage("reconstruction pitch"):
        pitch = reconstruction_pitch(model, cache, test, options.pitch_notes, rng)
    with stage("timbre transfer"):
        transfer = timbre_transfer(
            model, clf, test, means, cache.vocab.timbre, n_per_source=options.transfer_notes, seed=options.seed
        )
    folder = run_dir / "figures"
    with stage("figures"):
        figures = _metric_figures(folder, leak, control, clf, transfer)
        figures += _spectrogram_figures(folder, model, cache, test, options.recon_notes, rng)
    with stage("t-SNE"):
        figures.append(_tsne(folder, cache, train, options, rng))
    metrics = run_header(run, options.which, splits)
    metrics["counts"]["tsne"] = min(options.tsne_points, len(train))
    metrics |= {
        "table_one": table,
        "leakage": leak.to_dict(),
        "clusters": clusters,
        "independent_classifier": {
            "path": str(clf.path),
            "epochs": clf.info["epochs"],
            "accuracy": clf.info["accuracy"],
        },
        "controllability": control,
        "reconstruction_pitch": pitch,
        "transfer": transfer.metrics,
        "figures": [str(p.relative_to(run_dir)) for p in figures],
        "seconds": stage.seconds,
        **_headline(run.config, table, clusters),
    }
    stage.bar.close()
    log.info("wrote %s and %s", *write_report(run_dir, metrics))
    return metrics


PAPER_000_TIMBRE = {  # Table I of Dal Rí et al. (TinySOL): each variant's timbre accuracy
    "vae+c": 0.938,
    "md-vae+c": 0.945,
    "md-gmvae+c": 0.996,
    "md-gmvae+c+r": 1.000,
}
PAPER_004 = {  # the proposed VAE's denseness (lower) and divergence (higher), poster's table
    "pitch": {"denseness": 2.891, "divergence": 3.551},
    "timbre": {"denseness": 3.420, "divergence": 2.654},
}


def _headline(config, table: dict, clusters: dict) -> dict:
    """The run's own paper's headline beside its published number: paper 004's cluster ratio
    when its pairwise loss is on, else paper 000's timbre accuracy for the variant."""
    if config.metric.weight <= 0:
        return {
            "headline": {
                "name": "T accuracy (paper 000 Table I)",
                "value": table["accuracy"]["timbre"],
                "published": PAPER_000_TIMBRE.get(config.variant),
            }
        }
    published = PAPER_004["timbre"]["divergence"] / PAPER_004["timbre"]["denseness"]
    return {
        "paper_004": {"published": PAPER_004, "latents": list(config.metric.latents)},
        "headline": {
            "name": "timbre divergence / denseness (paper 004)",
            "value": clusters["timbre"]["ratio"],
            "published": published,
        },
    }


def _metric_figures(folder: Path, leak, control: dict, clf, transfer) -> list[Path]:
    from rtsynth.train.eval import figures

    figures.use_agg()
    folder.mkdir(parents=True, exist_ok=True)
    paths = [
        figures.leakage_heatmap(leak.matrix, leak.chance, leak.k, folder / "leakage.png"),
        figures.controllability_bars(control, clf.info["accuracy"]["test"], folder / "controllability.png"),
    ]
    if transfer.example_mels is not None:
        paths.append(figures.transfer_curves(transfer.metrics, folder / "transfer.png"))
        alphas = transfer.metrics["alphas"]
        paths.append(
            figures.spectrogram_grid(
                transfer.example_mels[None],
                [""],
                [f"alpha={a:g}" for a in alphas],
                f"Timbre transfer {transfer.example_title}",
                folder / "transfer_example.png",
            )
        )
    return paths


def _spectrogram_figures(folder: Path, model, cache, test, n_recon: int, rng) -> list[Path]:
    from rtsynth.train.eval import figures

    figures.use_agg()
    folder.mkdir(parents=True, exist_ok=True)
    paths = [
        figures.reconstructions(model, cache, test, _spread_rows(test, n_recon), folder / "reconstructions.png"),
        figures.interpolation(model, cache.vocab, test, _distant_pair(test, rng), folder / "interpolation.png"),
    ]
    paths += [figures.sweeps(model, cache.vocab, test, 0, d, folder / f"sweeps_{d}.png") for d in DESCRIPTORS]
    return paths


def _tsne(folder: Path, cache, train, options: EvalOptions, rng) -> Path:
    from rtsynth.train.eval import figures
    from rtsynth.train.eval.latents import subsample
    from rtsynth.train.eval.tsne import tsne_figure

    figures.use_agg()
    points = subsample(np.arange(len(train)), options.tsne_points, rng)
    return tsne_figure(
        {d: train.mu[d][points] for d in DESCRIPTORS},
        train.labels[points],
        cache.vocab,
        folder / "tsne.png",
        seed=options.seed,
    )


def _spread_rows(test, n: int) -> np.ndarray:
    """Up to n test rows, one per instrument first, so the figure shows different timbres."""
    timbre = test.labels[:, DESCRIPTORS.index("timbre")]
    _, first = np.unique(timbre, return_index=True)
    rest = np.setdiff1d(np.arange(len(test)), first)
    return np.concatenate([np.sort(first), rest])[:n]


def _distant_pair(test, rng) -> tuple[int, int]:
    """A random test note and the note that differs from it in the most labels."""
    a = int(rng.integers(len(test)))
    differences = (test.labels != test.labels[a]).sum(axis=1)
    return a, int(np.argmax(differences))
