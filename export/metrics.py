"""The metrics a bundle carries: the evaluation report if the run has one, else the
validation losses of the exported checkpoint's epoch, labelled with where they came from."""

from __future__ import annotations

import csv
import json
import logging
import math
from pathlib import Path

log = logging.getLogger(__name__)

LOCAL_KEYS = ("run", "cache", "figures", "seconds")
"""Facts of the machine that ran the evaluation (paths, timings), not of the model."""


def bundle_metrics(run_dir: str | Path, epoch: int) -> dict:
    run_dir = Path(run_dir)
    evaluated = run_dir / "metrics.json"
    if evaluated.is_file():
        try:
            metrics = json.loads(evaluated.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{evaluated} is not valid JSON ({err}); re-run `rtsynth eval {run_dir}`") from None
        kept = {k: v for k, v in metrics.items() if k not in LOCAL_KEYS}
        if isinstance(kept.get("independent_classifier"), dict):
            kept["independent_classifier"] = {k: v for k, v in kept["independent_classifier"].items() if k != "path"}
        return {"source": "rtsynth eval", **kept}
    log.warning(
        "%s has no metrics.json (run `rtsynth eval %s` for the full report); the bundle carries the "
        "validation losses of epoch %d only",
        run_dir,
        run_dir,
        epoch,
    )
    return {"source": "training", **_validation_row(run_dir, epoch)}


def _validation_row(run_dir: Path, epoch: int) -> dict:
    """metrics.csv's epoch and val_* columns for `epoch` (the last row if it is not there)."""
    path = run_dir / "metrics.csv"
    if not path.is_file():
        log.warning("%s has no metrics.csv either; the bundle carries no metrics", run_dir)
        return {}
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}
    row = next((r for r in rows if r.get("epoch") == str(epoch)), rows[-1])
    return {key: _number(value) for key, value in row.items() if key == "epoch" or key.startswith("val_")}


def _number(text: str):
    """A CSV cell as int, float or None (empty or not finite: JSON has no NaN)."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value):
        return None
    return int(value) if value.is_integer() and text.strip().lstrip("-").isdigit() else value
