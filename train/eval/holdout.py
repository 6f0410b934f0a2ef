"""`rtsynth eval RUNDIR --on CACHE`: a trained run scored on every note of another cache.

The leave-one-SoundFont-out report: a run trained on GM-SOL from some SoundFonts is scored on a
cache prepared from one it was not trained on, whose labels the run knows (a bank may lack some
of its instruments). Each descriptor's accuracy is read two ways, by the model's own
classifiers on the posterior means and by a k-NN (k = 5) fitted on the run's training notes in
that descriptor's latent, next to the same measures on the run's own test split, so the report
shows how much of each label survives a new SoundFont. The timbre confusion says which
instruments the new SoundFont makes the model mistake. Where the held-out SoundFont plays
recordings the training set holds (`heard`), the report also scores the other instruments
alone: only they measure transfer to a new instrument sound.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from rtsynth.labels import DESCRIPTORS
from rtsynth.train.corpus.combine import soundfont_of
from rtsynth.train.eval.heard import SAME_RECORDING, heard_timbres
from rtsynth.train.eval.latents import SplitLatents, encode_split, encode_splits
from rtsynth.train.eval.leakage import knn_accuracy
from rtsynth.train.eval.report import run_header
from rtsynth.train.prep.cache import NoteCache
from rtsynth.train.runs import Checkpoint, LoadedRun, RunError, load_run

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HoldoutOptions:
    which: Checkpoint = "best"
    max_train_notes: int = 4000  # training notes encoded for the k-NN
    seed: int = 0


@dataclass(frozen=True)
class Scores:
    """Per descriptor: the model's classifiers and the k-NN in its own latent (None: the model lacks it)."""

    classifier: dict[str, float | None]
    knn: dict[str, float | None]
    notes: int


def in_run_classes(run: LoadedRun, held: NoteCache) -> NoteCache:
    """`held` with its labels as the run's class indices. A held-out bank may lack some of the
    run's classes (freepats has no viola); a class the run was not trained on, or other mel
    settings, is a RunError naming it."""
    if held.mel_settings != run.cache.mel_settings:
        raise RunError(f"the held-out cache {held.root} has other mel settings than run {run.run_dir}")
    mine, theirs = run.cache.vocab, held.vocab
    labels = {}
    for d in DESCRIPTORS:
        unknown = [c for c in theirs.classes(d) if c not in mine.classes(d)]
        if unknown:
            raise RunError(
                f"the held-out cache {held.root} has {d} classes run {run.run_dir} was not trained on: "
                f"{unknown} (the run's: {list(mine.classes(d))}); prepare it with the same --pitch-range "
                "and the same instruments and dynamics"
            )
        index = np.array([mine.classes(d).index(c) for c in theirs.classes(d)], dtype=np.int64)
        labels[d] = index[held.labels[d]]
    return replace(held, labels=labels, vocab=mine)


def scores(test: SplitLatents, train: SplitLatents) -> Scores:
    predicted = test.own_predictions()
    classifier: dict[str, float | None] = {}
    knn: dict[str, float | None] = {}
    for j, d in enumerate(DESCRIPTORS):
        known = predicted[:, j] >= 0
        classifier[d] = float((predicted[:, j] == test.labels[:, j]).mean()) if known.all() else None
        knn[d] = knn_accuracy(train.mu[d], train.labels[:, j], test.mu[d], test.labels[:, j]) if d in test.mu else None
    return Scores(classifier, knn, len(test))


def confusion(test: SplitLatents, n_classes: int) -> np.ndarray | None:
    """[true timbre, predicted timbre] note counts of the model's timbre classifier (None: it has none)."""
    j = DESCRIPTORS.index("timbre")
    if (test.own_predictions()[:, j] < 0).any():
        return None
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (test.labels[:, j], test.own_predictions()[:, j]), 1)
    return matrix


def sources(cache: NoteCache) -> list[str]:
    """What a cache was prepared from: the SoundFont of each GM-SOL corpus, else the corpus folder."""
    corpus = cache.manifest.get("corpus")
    if not isinstance(corpus, dict):
        return [str(cache.root)]
    listed = corpus.get("sources") or [{"root": corpus["root"], "soundfont": soundfont_of(Path(corpus["root"]))}]
    return [s["soundfont"] or s["root"] for s in listed]


def evaluate_holdout(run_dir: str | Path, held_dir: str | Path, options: HoldoutOptions) -> dict:
    """Score the run on every note of the held-out cache; the report dict (also written by `write_holdout`)."""
    run = load_run(Path(run_dir), options.which)
    loaded = NoteCache.load(held_dir)
    held = in_run_classes(run, loaded)
    model, rng = run.model.eval(), np.random.default_rng(options.seed)
    splits = encode_splits(model, run.cache, options.max_train_notes, rng)
    train, own_test = splits.train, splits.test
    held_all = encode_split(model, held, np.arange(len(held)), with_outputs=True, desc="encode held-out")
    timbres = held.vocab.timbre
    matrix = confusion(held_all, len(timbres))
    heard = heard_timbres(held, run.cache)
    unheard = heard.unheard_rows(held)
    return run_header(run, options.which, splits) | {
        "trained_on": sources(run.cache),
        "held_out": {"cache": str(held.root), "sources": sources(held)},
        "held_out_scores": asdict(scores(held_all, train)),
        "own_test_scores": asdict(scores(own_test, train)),
        "heard_in_training": {"below": SAME_RECORDING, "distance": heard.distance, "timbres": list(heard.timbres)},
        "unheard_scores": asdict(scores(held_all.subset(unheard), train)) if len(unheard) else None,
        "train_notes_for_knn": len(train),
        "timbre_classes": list(timbres),
        "timbres_missing": [t for t in timbres if t not in loaded.vocab.timbre],
        "timbre_confusion": None if matrix is None else matrix.tolist(),
        "timbre_recall": None
        if matrix is None
        else {t: _ratio(matrix[i, i], matrix[i].sum()) for i, t in enumerate(timbres)},
    }


def _ratio(part: int, whole: int) -> float | None:
    return float(part / whole) if whole else None


def score_text(value: float | None) -> str:
    """A score as the report and the log print it (three decimals, '-' where the model lacks it)."""
    return "-" if value is None else f"{value:.3f}"


def holdout_markdown(report: dict) -> str:
    held, own = report["held_out_scores"], report["own_test_scores"]
    unheard = report["unheard_scores"] or {"classifier": {}, "knn": {}, "notes": 0}
    heard = report["heard_in_training"]
    lines = [
        f"# Held-out evaluation of {report['run']} ({report['variant']}, {report['checkpoint']} checkpoint, "
        f"epoch {report['epoch']})",
        "",
        f"Trained on: {', '.join(report['trained_on'])}. Held out: {', '.join(report['held_out']['sources'])} "
        f"({held['notes']} notes, cache {report['held_out']['cache']}).",
        "",
        f"Instruments whose recordings the training notes already hold (median mean |Δmel| to the nearest "
        f"training note of the same labels under {heard['below']}): {', '.join(heard['timbres']) or 'none'}. "
        f"The columns *not heard* score the other instruments' {unheard['notes']} notes alone.",
        *_missing_lines(report),
        "",
        "| descriptor | classifier, held out | k-NN (k=5), held out | classifier, not heard | k-NN, not heard "
        "| classifier, own test | k-NN, own test |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in DESCRIPTORS:
        cells = [held["classifier"][d], held["knn"][d], unheard["classifier"].get(d), unheard["knn"].get(d)]
        cells += [own["classifier"][d], own["knn"][d]]
        lines.append(f"| {d} | " + " | ".join(score_text(c) for c in cells) + " |")
    if report["timbre_confusion"] is None:
        return "\n".join([*lines, "", "The model has no timbre classifier: no confusion matrix."]) + "\n"
    return "\n".join([*lines, *_confusion_lines(report)]) + "\n"


def _missing_lines(report: dict) -> list[str]:
    missing = report["timbres_missing"]
    return ["", f"The held-out bank has no notes of: {', '.join(missing)}."] if missing else []


def _confusion_lines(report: dict) -> list[str]:
    timbres, distance = report["timbre_classes"], report["heard_in_training"]["distance"]
    lines = ["", "## Timbre confusion on the held-out notes (rows: true, columns: predicted)", ""]
    lines += [
        "| true \\ predicted | " + " | ".join(timbres) + " | recall | nearest training render |",
        "|---" * (len(timbres) + 3) + "|",
    ]
    for name, row in zip(timbres, report["timbre_confusion"], strict=True):
        lines.append(
            f"| {name} | " + " | ".join(str(c) for c in row) + f" | {score_text(report['timbre_recall'][name])} "
            f"| {score_text(distance[name])} |"
        )
    return lines


def write_holdout(report: dict, out_stem: Path) -> tuple[Path, Path]:
    """OUT_STEM.json and OUT_STEM.md."""
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    json_path, md_path = Path(f"{out_stem}.json"), Path(f"{out_stem}.md")
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    md_path.write_text(holdout_markdown(report))
    return json_path, md_path
