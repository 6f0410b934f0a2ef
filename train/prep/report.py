"""The prep report: what went in, what was left out and why, and what the labels look like.

report.json is for programs (and the up-to-date check), report.md for people; the
histograms are also printed by the command.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rtsynth.labels import DESCRIPTORS, Vocabulary, note_name
from rtsynth.train.corpus.records import Corpus, NoteRecord, Skipped
from rtsynth.train.prep.cache import SPLITS
from rtsynth.train.prep.note import PreparedNote


def format_differences(notes: Sequence[PreparedNote]) -> list[dict]:
    """Notes whose rate, channel count or sample format differs from most of the corpus,
    with how each difference was handled."""
    usual = {
        key: Counter(getattr(n, key) for n in notes).most_common(1)[0][0]
        for key in ("sample_rate", "channels", "subtype")
    }
    handled = {
        "sample_rate": lambda n: f"{n.sample_rate} Hz (corpus: {usual['sample_rate']} Hz), resampled",
        "channels": lambda n: f"{n.channels} channels (corpus: {usual['channels']}), averaged to mono",
        "subtype": lambda n: f"{n.subtype} samples (corpus: {usual['subtype']}), read as float",
    }
    out = []
    for n in notes:
        notes_on = [handled[k](n) for k in usual if getattr(n, k) != usual[k]]
        if notes_on:
            out.append({"source_id": n.record.source_id, "handled": "; ".join(notes_on)})
    return out


def histograms(labels: dict[str, np.ndarray], vocab: Vocabulary) -> dict[str, dict[str, int]]:
    """descriptor -> {class label: count}, every class of the vocabulary included."""
    return {
        d: {
            _label(d, v): int(c)
            for v, c in zip(vocab.classes(d), np.bincount(labels[d], minlength=len(vocab.classes(d))))
        }
        for d in DESCRIPTORS
    }


def _label(descriptor: str, value) -> str:
    if descriptor == "pitch":
        return f"{note_name(value)} ({value})"
    if descriptor == "duration":
        return f"{value:.2f} s"
    return str(value)


def build_report(
    corpus: Corpus,
    notes: Sequence[PreparedNote],
    failed: Sequence[Skipped],
    filtered: Sequence[tuple[NoteRecord, str]],
    labels: dict[str, np.ndarray],
    split: np.ndarray,
    vocab: Vocabulary,
    timing: dict,
) -> dict:
    skipped = [{"source_id": s.source_id, "stage": "corpus", "reason": s.reason} for s in corpus.skipped]
    skipped += [{"source_id": s.source_id, "stage": "audio", "reason": s.reason} for s in failed]
    by_instrument = {
        name: [int(np.sum((labels["timbre"] == i) & (split == k))) for k in range(len(SPLITS))]
        for i, name in enumerate(vocab.timbre)
    }
    return {
        "corpus": corpus.describe(),
        "counts": {
            "kept": len(notes),
            "skipped": len(skipped),
            "filtered": len(filtered),
            "skipped_by_corpus_reader": len(corpus.skipped),
            "skipped_in_audio": len(failed),
        },
        "splits": {s: int(np.sum(split == k)) for k, s in enumerate(SPLITS)},
        "splits_by_instrument": by_instrument,
        "histograms": histograms(labels, vocab),
        "source_formats": dict(Counter(n.source_format for n in notes).most_common()),
        "format_differences": format_differences(notes),
        "skipped": skipped,
        "filtered": [{"source_id": r.source_id, "reason": why} for r, why in filtered],
        "timing": timing,
    }


def histogram_text(report: dict, width: int = 40) -> str:
    lines = []
    for descriptor, counts in report["histograms"].items():
        top = max(counts.values(), default=0) or 1
        pad = max(map(len, counts), default=0)
        lines.append(f"{descriptor} ({len(counts)} classes, {sum(counts.values())} notes)")
        lines += [f"  {k:<{pad}} {v:6d} {'#' * round(width * v / top)}" for k, v in counts.items()]
    return "\n".join(lines)


def report_markdown(report: dict) -> str:
    c, t = report["counts"], report["timing"]
    lines = [
        f"# Prep report: {report['corpus']['kind']} corpus at {report['corpus']['root']}",
        "",
        f"{c['kept']} notes kept, {c['skipped']} skipped ({c['skipped_by_corpus_reader']} by the corpus "
        f"reader, {c['skipped_in_audio']} in audio processing), {c['filtered']} filtered out by pitch.",
        "",
        "Splits: " + ", ".join(f"{k} {v}" for k, v in report["splits"].items()),
        f"Prep took {t['prep_seconds']:.1f} s ({t['ms_per_note']:.1f} ms per note, {t['workers']} workers); "
        f"loading the cache and reading every mel took {t['load_seconds']:.2f} s.",
        "",
        "## Label histograms",
        "",
        "```",
        histogram_text(report),
        "```",
        "",
        "## Splits by instrument (train / val / test)",
        "",
        *(f"- {k}: {' / '.join(map(str, v))}" for k, v in report["splits_by_instrument"].items()),
        "",
        "## Source formats",
        "",
        *(f"- {k}: {v}" for k, v in report["source_formats"].items()),
        "",
    ]
    lines += _table(
        "Handled format differences",
        ("note", "handled"),
        [(d["source_id"], d["handled"]) for d in report["format_differences"]],
    )
    lines += _table(
        "Skipped", ("note", "stage", "reason"), [(s["source_id"], s["stage"], s["reason"]) for s in report["skipped"]]
    )
    lines += _table("Filtered", ("note", "reason"), [(f["source_id"], f["reason"]) for f in report["filtered"]])
    return "\n".join(lines) + "\n"


def _table(title: str, header: Sequence[str], rows: list[tuple]) -> list[str]:
    out = [f"## {title} ({len(rows)})", ""]
    if rows:
        out += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(str(x).replace("|", "\\|") for x in row) + " |" for row in rows]
    else:
        out.append("none")
    return [*out, ""]


def write_report(root: Path, report: dict) -> None:
    (root / "report.md").write_text(report_markdown(report))
    (root / "report.json").write_text(json.dumps(report, indent=2))
