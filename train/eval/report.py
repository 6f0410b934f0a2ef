"""metrics.json -> report.md, and several runs' metrics -> one Table-I-style comparison."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rtsynth.labels import DESCRIPTORS
from rtsynth.train.eval.names import SYMBOL

if TYPE_CHECKING:
    from rtsynth.train.eval.latents import EvalSplits

VARIANT_ORDER = ("vae+c", "md-vae+c", "md-gmvae+c", "md-gmvae+c+r", "luo-gmvae", "tanaka-3f")


def _f(value, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
    ]


def _figure(caption: str, rel: str) -> list[str]:
    return [f"![{caption}]({rel})", ""]


def report_markdown(m: dict) -> str:
    lines = [
        f"# Evaluation of `{m['run']}`",
        "",
        f"Variant **{m['variant']}**, checkpoint `{m['checkpoint']}` (epoch {m['epoch']}), cache `{m['cache']}`; "
        f"{m['counts']['test']} test notes, {m['counts']['train_used']} training notes for k-NN and class "
        "centroids. Everything below uses posterior means, except the deliberate spread w.",
        "",
    ]
    for section in (
        _table_one,
        _leakage,
        _clusters,
        _classifier,
        _control,
        _control_audio,
        _recon_pitch,
        _transfer,
        _figures,
    ):
        lines += section(m)
    return "\n".join(lines)


def _table_one(m: dict) -> list[str]:
    t = m["table_one"]
    return [
        "## Table I (Dal Rí et al.): the model's classifiers on test posterior means",
        "",
        *_table(
            ["variant", *(f"{SYMBOL[d]} acc" for d in DESCRIPTORS), "recon MSE"],
            [[m["variant"], *(_f(t["accuracy"][d]) for d in DESCRIPTORS), _f(t["recon_mse"], 4)]],
        ),
        "Recon MSE: mean squared error of decode(mu) against the [0, 1] mel.",
        "",
    ]


def _leakage(m: dict) -> list[str]:
    leak = m["leakage"]
    rows = [[f"z_{SYMBOL[latent]}", *(_f(v) for v in leak["accuracy"][i])] for i, latent in enumerate(DESCRIPTORS)]
    rows.append(["chance", *(_f(c) for c in leak["chance"])])
    return [
        f"## Leakage: {leak['k']}-NN accuracy of each label (columns) from each latent (rows)",
        "",
        *_table(["latent \\ label", *(SYMBOL[d] for d in DESCRIPTORS)], rows),
        f"Fitted on training posterior means, scored on test; chance = majority-class rate on test. "
        f"Off-diagonal accuracy above chance: mean {_f(leak['mean_off_diagonal_excess'])}, "
        f"max {_f(leak['max_off_diagonal_excess'])}.",
        "",
        *_figure("leakage", "figures/leakage.png"),
    ]


def _clusters(m: dict) -> list[str]:
    rows = [
        [f"z_{SYMBOL[d]}", str(c["classes"]), _f(c["denseness"]), _f(c["divergence"]), _f(c["ratio"], 2)]
        for d, c in m["clusters"].items()
    ]
    return [
        "## Denseness and divergence (Tanaka et al., metric learning): test posterior means, by each latent's label",
        "",
        *_table(["latent", "classes", "denseness ↓", "divergence ↑", "divergence / denseness ↑"], rows),
    ]


def _classifier(m: dict) -> list[str]:
    c = m["independent_classifier"]
    rows = [[split, *(_f(acc[d]) if acc else "–" for d in DESCRIPTORS)] for split, acc in c["accuracy"].items()]
    return [
        "## Independent classifier (CNN on real mels of this cache)",
        "",
        f"Trained {c['epochs']} epochs, saved at `{c['path']}`. Its accuracy on real notes bounds what the "
        "controllability and transfer numbers can show.",
        "",
        *_table(["split", *(SYMBOL[d] for d in DESCRIPTORS)], rows),
    ]


def _control(m: dict) -> list[str]:
    c = m["controllability"]
    spreads = [str(w) for w in c["spreads"]]
    single = [
        [SYMBOL[d], *(f"{_f(c['single'][d][w]['asked'])} ({_f(c['single'][d][w]['kept'])})" for w in spreads)]
        for d in DESCRIPTORS
    ]
    joint = c["joint"]["accuracy"]
    joint_rows = [[SYMBOL[d], *(_f(joint[w][d]) if joint[w] else "–" for w in spreads)] for d in DESCRIPTORS]
    return [
        "## Controllability (Luo et al.)",
        "",
        f"z_xi = mu_class + w * sigma * eps with class means from the {c['class_means']} and sigma = "
        f"{c['sigma']}; {c['n_refs']} test notes as references. The generated mel is named by the "
        "independent classifier.",
        "",
        "**One latent asked for** (a class other than the reference's; the other latents from the reference). "
        "Accuracy of what was asked for, and in brackets how often the other three labels were kept:",
        "",
        *_table(["descriptor", *(f"w={w}" for w in spreads)], single),
        f"**All four latents from class means** (labels of {c['joint']['n']} test notes):",
        "",
        *_table(["descriptor", *(f"w={w}" for w in spreads)], joint_rows),
        *_figure("controllability", "figures/controllability.png"),
    ]


def _control_audio(m: dict) -> list[str]:
    """Through-audio accuracy beside the mel-domain figure, cell by cell, so the loss the
    vocoder and re-analysis cause is read off directly."""
    c = m["controllability"]
    audio, spreads = c["through_audio"], [str(w) for w in c["spreads"]]
    rows = [
        [protocol, SYMBOL[d], *(_f(asked(domain, d, w)) for w in spreads for domain in (audio, c))]
        for protocol, asked in (("one latent", _asked_single), ("all four", _asked_joint))
        for d in DESCRIPTORS
    ]
    header = ["protocol", "descriptor", *(f"w={w} {domain}" for w in spreads for domain in ("audio", "mel"))]
    reasons = ", ".join(f"{n} {why}" for why, n in audio["silent_reasons"].items())
    reasons = f" ({reasons})" if reasons else ""
    return [
        "## Controllability through audio",
        "",
        f"The same generated notes, rendered to audio by the runtime's `{audio['vocoder']}` streaming vocoder "
        "at the model rate and at the synth's level for the asked timbre and dynamics, re-analysed by prep "
        "exactly as a corpus file (silence floor, trim, faded cut, pad/crop, [0, 1] mel) and named by the same "
        "independent classifier. Accuracy of what was asked for, through audio next to the mel domain:",
        "",
        *_table(header, rows),
        f"Silent after the vocoder (no usable audio, counted wrong for every descriptor): **{audio['silent']} of "
        f"{audio['notes']}** generated notes{reasons}.",
        "",
    ]


def _recon_pitch(m: dict) -> list[str]:
    r = m["reconstruction_pitch"]
    return [
        "## Pitch of reconstructions (through audio)",
        "",
        f"{r['notes']} test notes and their reconstructions from posterior means, rendered by the "
        f"`{r['vocoder']}` vocoder, f0 measured 0.1-0.5 s into the note: share within "
        f"{r['in_tune_cents']:g} cents of the labelled pitch (median cents off). The originals check the "
        "measurement; the reconstructions are what the decoder can play.",
        "",
        *_table(
            ["", "in tune", "median cents off"],
            [
                [name, _f(r[f"{name}_in_tune"]), f"{r[f'{name}_median_cents']:g}"]
                for name in ("original", "reconstruction")
            ],
        ),
    ]


def _asked_single(domain: dict, d: str, w: str) -> float:
    return domain["single"][d][w]["asked"]


def _asked_joint(domain: dict, d: str, w: str) -> float | None:
    return (domain["joint"]["accuracy"][w] or {}).get(d)


def _transfer(m: dict) -> list[str]:
    t = m["transfer"]
    if not t["target_posterior_mean"]:
        return ["## Timbre transfer (Luo et al.)", "", "Skipped: fewer than two instruments in the test split.", ""]
    return [
        "## Timbre transfer (Luo et al.)",
        "",
        f"z_T + alpha (mu_target - mu_source) over all ordered pairs of {', '.join(t['instruments'])}; "
        "mean posterior of the target instrument by the independent classifier:",
        "",
        *_table(
            ["alpha", *(f"{a:g}" for a in t["alphas"])],
            [["target posterior", *(_f(p) for p in t["target_posterior_mean"])]],
        ),
        f"Mean curve monotonic: **{'yes' if t['monotonic'] else 'no'}**; "
        f"share of pairs with a monotonic curve: {_f(t['pairs_monotonic'], 2)}.",
        "",
        *_figure("transfer", "figures/transfer.png"),
        *_figure("transfer example", "figures/transfer_example.png"),
    ]


CAPTIONS = {
    "reconstructions": "Test notes (top) and decode(mu) (bottom).",
    "interpolation": "Paper Fig. 5: (1 - alpha) z1 + alpha z2 over all of z_S (top row), then over one latent at a "
    "time with the other latents from note 1.",
    "sweeps": "Paper Fig. 6: one dimension replaced by the value shown (absolute, not an offset), every other "
    "dimension from the note's posterior mean.",
    "tsne": "Paper Figs. 3-4: t-SNE of {n} training posterior means, one row per latent, coloured by each label "
    "(columns): clusters belong on the diagonal only.",
}
SHOWN_ABOVE = ("leakage", "controllability", "transfer", "transfer_example")


def _figures(m: dict) -> list[str]:
    lines = ["## Figures", ""]
    for name in m["figures"]:
        stem = Path(name).stem
        if stem not in SHOWN_ABOVE:
            caption = CAPTIONS.get(stem.split("_")[0], "").format(n=m["counts"].get("tsne"))
            lines += [f"### {stem.replace('_', ' ')}", "", caption, "", *_figure(stem, name)]
    return lines


def run_header(run, checkpoint: str, splits: EvalSplits) -> dict:
    """What every evaluation's metrics start with: which run, checkpoint and notes it measured."""
    return {
        "run": str(run.run_dir),
        "variant": run.config.variant,
        "checkpoint": checkpoint,
        "epoch": run.epoch,
        "cache": str(run.cache.root),
        "counts": splits.counts(),
    }


def write_report(run_dir: Path, metrics: dict, render: Callable[[dict], str] = report_markdown) -> tuple[Path, Path]:
    """RUN_DIR/metrics.json and RUN_DIR/report.md (`render`: a variant's own report)."""
    metrics_path, report_path = run_dir / "metrics.json", run_dir / "report.md"
    metrics_path.write_text(json.dumps(metrics, indent=2))
    report_path.write_text(render(metrics))
    return metrics_path, report_path


def load_metrics(run_dir: Path) -> dict:
    """The run's evaluation (metrics.json), how its training went (metrics.csv) and, where
    `bench/fidelity.py --out RUN/fidelity` was run on its bundle, that summary."""
    path = Path(run_dir) / "metrics.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} has no metrics.json; run `rtsynth eval {run_dir}` first")
    fidelity = Path(run_dir) / "fidelity" / "fidelity.json"
    summary = json.loads(fidelity.read_text())["summary"] if fidelity.is_file() else None
    return {**json.loads(path.read_text()), "training": training_facts(Path(run_dir)), "fidelity": summary}


def training_facts(run_dir: Path) -> dict:
    """Epochs trained, median seconds per epoch and summed epoch time, from metrics.csv."""
    import csv
    import statistics

    with open(run_dir / "metrics.csv", newline="") as f:
        seconds = [float(row["seconds"]) for row in csv.DictReader(f)]
    return {
        "epochs": len(seconds),
        "seconds_per_epoch": statistics.median(seconds) if seconds else 0.0,
        "minutes": sum(seconds) / 60,
    }


def _table_order(m: dict) -> tuple:
    known = m["variant"] in VARIANT_ORDER
    return (VARIANT_ORDER.index(m["variant"]) if known else len(VARIANT_ORDER), m["run"])


def compare_table(metrics: list[dict]) -> str:
    """One row per run, paper variants in Table I order, then the rest by name."""
    rows = []
    for m in sorted(metrics, key=_table_order):
        t, leak = m["table_one"], m["leakage"]
        train = m.get("training") or {}
        rows.append(
            [
                Path(m["run"]).name,
                m["variant"],
                *(_f(t["accuracy"][d]) for d in DESCRIPTORS),
                *(_f(own_knn(leak, d)) for d in DESCRIPTORS),
                _f(t["recon_mse"], 4),
                _f(leak["mean_off_diagonal_excess"]),
                _f(leak["max_off_diagonal_excess"]),
                _control_through_audio(m),
                _fidelity(m.get("fidelity")),
                str(train.get("epochs", "")),
                _f(train.get("seconds_per_epoch"), 1),
                _f(train.get("minutes"), 0),
                *_headline(m),
            ]
        )
    header = [
        "run",
        "variant",
        *(f"{SYMBOL[d]} acc ↑" for d in DESCRIPTORS),
        *(f"{SYMBOL[d]} k-NN ↑" for d in DESCRIPTORS),
        "recon MSE ↓",
        "leakage above chance, mean ↓",
        "max ↓",
        "asked T/P/V/D through audio ↑",
        "fidelity: keys in tune, log-mel",
        "epochs",
        "s / epoch",
        "train min",
        "the paper's headline measure",
        "published",
    ]
    return "\n".join(_table(header, rows))


def own_knn(leakage: dict, descriptor: str) -> float | None:
    """k-NN accuracy of a latent for its own label; None where the model has no such latent."""
    latents = leakage.get("latents", leakage["order"])
    if descriptor not in latents:
        return None
    return leakage["accuracy"][latents.index(descriptor)][leakage["order"].index(descriptor)]


def _headline(m: dict) -> tuple[str, str]:
    """The run's own paper's headline measure, and the paper's number for it."""
    headline = m.get("headline")
    if headline is None:
        return "", ""
    return f"{headline['name']}: {_f(headline['value'])}", _f(headline.get("published"))


def _control_through_audio(m: dict) -> str:
    """All four latents set from class means (w = 0), rendered to audio and named again:
    how often each asked descriptor is heard; a dash where the eval has no audio route."""
    control = m.get("controllability") or {}
    if not control.get("through_audio"):
        return "–"
    asked = control["through_audio"]["joint"]["accuracy"][str(control["spreads"][0])] or {}
    return " / ".join(_f(asked.get(d), 2) for d in DESCRIPTORS)


def _fidelity(summary: dict | None) -> str:
    if summary is None:
        return "–"
    return f"{100 * summary['f0_within_5_cents']:.0f} %, {summary['log_mel_median_db']:.1f} dB"
