"""`rtsynth eval` of a paper-003 run (variant "luo-gmvae"): the paper's own measures.

- Table 1: F-scores of linear classifiers trained on z_t and on z_p (training posterior
  means) to predict instrument and pitch on the test split; z_t should name the instrument
  and not the pitch, z_p the reverse.
- q(y|x) accuracy: the mixture itself as the classifier (the semi-supervised timbre space).
- Controllable synthesis (section 4.3): z_p ~ N(μ_yp, (w σ_p)²), z_t ~ N(μ_yt, (w σ_t)²) for the
  labels of test notes, w in {0, 0.5, 1}, decoded and named by the independent classifier
  trained on real notes (F-scores of instrument and pitch).
- Timbre transfer by mean arithmetic (section 4.4), the shared k-NN leakage, denseness and
  divergence of both latents, and the reconstruction error.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from rtsynth.labels import DESCRIPTORS
from rtsynth.train.eval.report import run_header, write_report

log = logging.getLogger(__name__)

SPREADS = (0.0, 0.5, 1.0)
PUBLISHED_25 = {  # paper 003, Table 1, M_GMVAE with N = 25 % of instrument labels (F-scores)
    "z_timbre->timbre": 0.971,
    "z_pitch->timbre": 0.180,
    "z_timbre->pitch": 0.084,
    "z_pitch->pitch": 0.977,
}
LATENTS = ("timbre", "pitch")


def linear_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray) -> float:
    """Macro F-score of a linear (logistic) classifier, as the paper's one dense layer."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    if len(np.unique(train_y)) < 2:
        return float("nan")
    probe = LogisticRegression(max_iter=2000).fit(train_x, train_y)
    return float(f1_score(test_y, probe.predict(test_x), average="macro"))


def table_1(train, test) -> dict[str, float]:
    """F-score of each latent (rows) predicting each of instrument and pitch (columns)."""
    out = {}
    for latent in LATENTS:
        for label in LATENTS:
            j = DESCRIPTORS.index(label)
            out[f"z_{latent}->{label}"] = linear_probe(
                train.mu[latent], train.labels[:, j], test.mu[latent], test.labels[:, j]
            )
    return out


def mixture_synthesis(model, classifier, test, means, repeats: int, seed: int) -> dict[str, dict[str, float]]:
    """Per spread w: F-scores with which the classifier names the asked instrument and pitch."""
    from sklearn.metrics import f1_score

    from rtsynth.train.eval.latents import decode

    rng = np.random.default_rng(seed)
    asked = np.repeat(test.labels[:, [DESCRIPTORS.index(d) for d in LATENTS]], repeats, axis=0)
    out = {}
    for w in SPREADS:
        parts = []
        for k, d in enumerate(LATENTS):
            centre = means.means[d][asked[:, k]]
            parts.append(centre + w * means.sigma[d][asked[:, k]] * rng.standard_normal(centre.shape))
        probs = classifier.probabilities(decode(model, np.concatenate(parts, axis=1).astype(np.float32)))
        out[f"{w:g}"] = {
            d: float(f1_score(asked[:, k], probs[d].argmax(axis=1), average="macro")) for k, d in enumerate(LATENTS)
        }
    return out


def evaluate_luo(run, options) -> dict:
    """Every measure above for a loaded paper-003 run; writes metrics.json and report.md."""
    import torch

    from rtsynth.train.eval import classifier as independent
    from rtsynth.train.eval.classmeans import class_means
    from rtsynth.train.eval.clusters import cluster_stats
    from rtsynth.train.eval.latents import encode_splits
    from rtsynth.train.eval.leakage import leakage_matrix
    from rtsynth.train.eval.transfer import timbre_transfer

    run_dir = Path(run.run_dir)
    torch.manual_seed(options.seed)
    model, cache = run.model.eval(), run.cache
    splits = encode_splits(model, cache, options.max_train_notes, np.random.default_rng(options.seed))
    test, train = splits.test, splits.train
    clf = independent.load_or_train(
        cache,
        options.classifier_root or run_dir.parent / ".eval_classifiers",
        independent.ClassifierConfig(epochs=options.classifier_epochs),
    )
    means = class_means(model, train, cache.vocab.sizes())
    predicted = test.own_predictions()
    accuracy = {
        d: float((predicted[:, j] == test.labels[:, j]).mean()) if d in LATENTS else None
        for j, d in enumerate(DESCRIPTORS)
    }
    leak = leakage_matrix(train.mu, train.labels, test.mu, test.labels)
    transfer = timbre_transfer(
        model, clf, test, means, cache.vocab.timbre, n_per_source=options.transfer_notes, seed=options.seed
    )
    probe = table_1(train, test)
    metrics = run_header(run, options.which, splits) | {
        "label_fraction": run.config.luo.label_fraction,
        "table_one": {"accuracy": accuracy, "recon_mse": float(np.mean(test.recon_errors())), "n_test": len(test)},
        "leakage": leak.to_dict(),
        "clusters": cluster_stats(test.mu, test.labels),
        "independent_classifier": {
            "path": str(clf.path),
            "epochs": clf.info["epochs"],
            "accuracy": clf.info["accuracy"],
        },
        "paper_003": {
            "table_1_f_scores": probe,
            "published_n25": PUBLISHED_25,
            "synthesis_f_scores": mixture_synthesis(model, clf, test, means, options.control_refs, options.seed),
        },
        "transfer": transfer.metrics,
        "headline": {
            "name": "z_t instrument F-score (paper 003 Table 1)",
            "value": probe["z_timbre->timbre"],
            "published": PUBLISHED_25["z_timbre->timbre"],
        },
    }
    write_report(run_dir, metrics, report)
    return metrics


def report(m: dict) -> str:
    p = m["paper_003"]
    lines = [
        f"# {m['variant']}: {Path(m['run']).name} (epoch {m['epoch']}, {m['label_fraction']:.0%} of instrument labels)",
        "",
        f"q(y|x) accuracy on {m['counts']['test']} test notes: timbre {m['table_one']['accuracy']['timbre']:.3f}, "
        f"pitch {m['table_one']['accuracy']['pitch']:.3f}; reconstruction MSE {m['table_one']['recon_mse']:.4f}.",
        "",
        "## Table 1 (F-scores of linear classifiers on the latents; published: M_GMVAE, N = 25 %)",
        "",
        "| latent -> label | ours | published |",
        "|---|---|---|",
        *(f"| {k} | {v:.3f} | {p['published_n25'][k]:.3f} |" for k, v in p["table_1_f_scores"].items()),
        "",
        "## Controllable synthesis (F-scores of the independent classifier on decoded samples)",
        "",
        "| w | instrument | pitch |",
        "|---|---|---|",
        *(f"| {w} | {s['timbre']:.3f} | {s['pitch']:.3f} |" for w, s in p["synthesis_f_scores"].items()),
        "",
        "## Timbre transfer (mean target posterior along alpha)",
        "",
        ", ".join(
            f"{a:g}: {v:.3f}"
            for a, v in zip(m["transfer"]["alphas"], m["transfer"]["target_posterior_mean"], strict=False)
        ),
        "",
        f"k-NN (k={m['leakage']['k']}) leakage above chance: mean {m['leakage']['mean_off_diagonal_excess']:.3f}, "
        f"max {m['leakage']['max_off_diagonal_excess']:.3f}.",
        "",
    ]
    return "\n".join(lines)
