"""`rtsynth export`: a trained run -> a bundle directory the runtime loads without torch.

Everything is written into a temporary directory beside the target and renamed into place
only after the parity check and a full `rtsynth.model.load_model` of the result, so a
failed export never leaves a half bundle and never damages the bundle it would replace.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rtsynth.bundle import DECODER_FILE, BundleSpec, DescriptorSpec, write_spec
from rtsynth.export.staging import check_target, staged_bundle
from rtsynth.labels import DESCRIPTORS
from rtsynth.model import load_model
from rtsynth.settings import PAPER_MEL

if TYPE_CHECKING:
    from rtsynth.train.runs import Checkpoint

log = logging.getLogger(__name__)


UNSUPERVISED = ("tanaka-3f",)  # variants whose timbres are presets, not the corpus's instruments


@dataclass(frozen=True)
class ExportOptions:
    name: str | None = None  # bundle name; default: the output directory's name
    which: Checkpoint = "best"
    force: bool = False  # replace an existing bundle
    tolerance: float = 1e-4  # max abs error ONNX vs torch
    max_train_notes: int = 4000  # training notes encoded for the class centroids
    map_notes: int = 2000  # training notes drawn as the timbre map's cloud
    tuning_step: int = 3  # tuning table from every key; every n-th re-checked as played (0: neither)
    seed: int = 0
    # a model that learned without labels (tanaka-3f) gets timbre presets instead of instruments
    # (export.presets): this many clusters of its timbre space, plus one per marked file
    presets: int = 8
    marked: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.tolerance >= 0:
            raise ValueError(f"parity tolerance must be a non-negative number, got {self.tolerance}")
        if self.which not in ("best", "last"):
            raise ValueError(f"checkpoint must be 'best' or 'last', got {self.which!r}")


def export_bundle(run_dir: str | Path, out: str | Path, options: ExportOptions = ExportOptions()) -> Path:
    """Export `run_dir` to the bundle directory `out`; returns `out`."""
    from rtsynth.train.runs import load_run

    out = Path(out)
    check_target(out, options.force)
    run = load_run(run_dir, options.which)
    name = options.name or out.resolve().name
    with staged_bundle(out, options.force) as staging:
        _build(run, staging, name, options)
    log.info("bundle %r written to %s", name, out)
    return out


def _build(run, directory: Path, name: str, options: ExportOptions) -> None:
    from tqdm import tqdm

    from rtsynth.export.onnx_decoder import decoder_metadata, export_decoder
    from rtsynth.export.priors import bundle_priors

    with tqdm(total=6, desc="export", unit="step") as steps:
        steps.set_description("export: class means")
        priors = bundle_priors(run, options.max_train_notes, options.seed)
        spec = build_spec(run, name, priors, options.which)
        if run.config.variant in UNSUPERVISED:
            spec = _with_presets(run, spec, priors, options)
        extras = {
            "name": name,
            "variant": run.config.variant,
            "corpus": spec.corpus["name"],
            "run": run.run_dir.name,
            "epoch": run.epoch,
        }
        steps.update()
        steps.set_description("export: ONNX decoder")
        export_decoder(run.model, directory / DECODER_FILE, decoder_metadata(spec.mel, extras, run.model.layout))
        steps.update()
        steps.set_description("export: parity check")
        spec.model["parity"] = _parity(run, directory / DECODER_FILE, priors.means, options).to_dict()
        steps.update()
        steps.set_description("export: encoder and timbre map")
        spec = _encoder_and_map(run, directory, spec, options)
        steps.update()
        steps.set_description("export: bundle.json")
        write_spec(directory, spec)
        load_model(directory)  # the runtime's own validation of the finished bundle
        steps.update()
        steps.set_description("export: tuning")
        if options.tuning_step > 0:
            spec = _tune(directory, spec, options.tuning_step)
        steps.update()


def build_spec(run, name: str, priors, which: Checkpoint = "best") -> BundleSpec:
    from rtsynth.export.facts import corpus_facts, velocity_mapping
    from rtsynth.export.metrics import bundle_metrics
    from rtsynth.train.prep.loudness import loudness_table

    cache, config = run.cache, run.config
    loudness, filled = loudness_table(cache)
    corpus = corpus_facts(cache)
    corpus["loudness_filled"] = filled
    descriptors = {
        d: DescriptorSpec(
            list(cache.vocab.classes(d)), priors.means[d].astype(float).round(6).tolist(), priors.sigma[d]
        )
        for d in DESCRIPTORS
    }
    model = {
        "variant": config.variant,
        "run": run.run_dir.name,
        "checkpoint": which,
        "epoch": run.epoch,
        "means": "centroid",  # classes sit at the training centroids (export.priors)
        "filled_means": priors.filled,
        "config": config.to_dict(),
        "exporter": _exporter_facts(),
    }
    if run.audio_tuned is not None:
        model["audio_tuned"] = {k: run.audio_tuned[k] for k in ("sample_rate", "from_run", "notes", "reference")}
    return BundleSpec(
        name=name,
        mel=cache.mel_settings,
        descriptors=descriptors,
        velocity_to_dynamics=velocity_mapping(cache),
        loudness_db=loudness,
        corpus=corpus,
        model=model,
        metrics=bundle_metrics(run.run_dir, run.epoch),
        vocoder={"kind": _default_vocoder()},
        layout=run.model.layout,
    )


def _with_presets(run, spec: BundleSpec, priors, options: ExportOptions) -> BundleSpec:
    """The spec with timbre presets in place of the cache's (placeholder or unused) instruments."""
    from rtsynth.export.presets import sounding_loudness, timbre_presets

    presets = timbre_presets(run.model, run.cache, options.presets, options.marked, options.seed)
    priors.means["timbre"] = presets.means
    loudness = sounding_loudness(run.model, presets, priors.means, run.cache.vocab, PAPER_MEL.db_range)
    timbre = DescriptorSpec(presets.names, presets.means.astype(float).round(6).tolist(), priors.sigma["timbre"])
    corpus = {**spec.corpus, "timbres": presets.names, "timbre_pitch_ranges": presets.pitch_ranges}
    model = {
        **spec.model,
        "timbres": f"{len(presets.names)} presets: k-means clusters of z_t and marked files",
        "preset_examples": presets.examples,
    }
    log.info("timbre presets: %s", ", ".join(presets.names))
    return replace(
        spec,
        descriptors={**spec.descriptors, "timbre": timbre},
        loudness_db=loudness,
        corpus=corpus,
        model=model,
    )


def _parity(run, onnx_path: Path, means: dict[str, np.ndarray], options: ExportOptions):
    """Compare onnxruntime on the exported file with the torch decoder; ParityError if off."""
    import onnxruntime as ort

    from rtsynth.export.parity import ParityError, check_parity, parity_latents

    try:
        session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own exception types
        raise ParityError(f"onnxruntime {ort.__version__} cannot load the exported decoder: {err}") from None
    latents = parity_latents(means, _reference_classes(run.cache), options.seed, run.model.layout)
    report = check_parity(run.model.decode, lambda z: session.run(None, {"z": z})[0], latents, options.tolerance)
    log.info(
        "parity: max abs error %.2g over %d latents (worst: %s)",
        report.max_abs_error,
        report.n_latents,
        report.worst_set,
    )
    return report


def _encoder_and_map(run, directory: Path, spec: BundleSpec, options: ExportOptions) -> BundleSpec:
    """encoder.onnx (for presets from recordings) and the timbre map fitted on training notes."""
    from rtsynth.export.onnx_encoder import ENCODER_FILE, export_encoder
    from rtsynth.timbremap import fit_map
    from rtsynth.train.eval.latents import encode_split, load_mels

    cache, rng = run.cache, np.random.default_rng(options.seed)
    notes = cache.indices("train")
    if len(notes) > options.map_notes:
        notes = np.sort(rng.choice(notes, size=options.map_notes, replace=False))
    export_encoder(run.model, directory / ENCODER_FILE, load_mels(cache, notes[:2]), options.tolerance)
    train = encode_split(run.model, cache, notes, desc="encode train (timbre map)")
    timbre_map = fit_map(train.mu["timbre"], cache.labels["timbre"][notes])
    return replace(spec, encoder={"file": ENCODER_FILE}, timbre_map=timbre_map.to_dict())


def _tune(directory: Path, spec: BundleSpec, step: int) -> BundleSpec:
    """Measure every key of each timbre's trained range, store the errors as the engine's
    tuning table (it plays each key from the class that decodes nearest, resampled by the
    rest), then measure every `step`-th key again as the synth now plays it."""
    from rtsynth.tuning import correction_table, measure_tuning

    ranges = {t: tuple(r) for t, r in spec.corpus["timbre_pitch_ranges"].items()}
    raw = measure_tuning(directory, ranges, step=1, progress=True)
    spec = replace(spec, tuning_cents=correction_table(raw, spec.vocab.pitch))
    write_spec(directory, spec)
    tuned = measure_tuning(directory, ranges, step).summary()
    spec.metrics["tuning"] = {**tuned, "model_alone": raw.summary()}
    write_spec(directory, spec)
    load_model(directory)
    log.info(
        "tuning: %.0f %% of %d keys within 50 cents from the class means alone (median %s cents off); "
        "%.0f %% as the synth plays them (tuning table)",
        100 * raw.in_tune(),
        len(raw.notes),
        spec.metrics["tuning"]["model_alone"]["median_abs_cents"],
        100 * tuned["in_tune"],
    )
    return spec


def _reference_classes(cache) -> dict[str, int]:
    """The most common training class of each descriptor: a typical note to sweep around."""
    train = cache.indices("train")
    return {
        d: int(np.bincount(cache.labels[d][train], minlength=len(cache.vocab.classes(d))).argmax()) for d in DESCRIPTORS
    }


def _exporter_facts() -> dict:
    import onnx
    import torch

    from rtsynth.export.onnx_decoder import OPSET

    return {"torch": torch.__version__, "onnx": onnx.__version__, "opset": OPSET}


def _default_vocoder() -> str:
    from rtsynth.vocoder import DEFAULT_VOCODER

    return DEFAULT_VOCODER
