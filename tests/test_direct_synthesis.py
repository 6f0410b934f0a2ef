"""Direct synthesis end to end: harmonic-noise bundles validated at load, rendered by `rtsynth
render` at 48 and 44.1 kHz with every key in tune, played by the engine, and the shipped
model given direct synthesis by ONNX surgery."""

from __future__ import annotations

import dataclasses
import math
import shutil

import numpy as np
import pytest
import soundfile
from harmonic_bundle import SYNTHESIS, make_harmonic_bundle

from rtsynth.bundle import BundleShapeError, read_spec, write_spec
from rtsynth.cli import main
from rtsynth.dsp.air import AIR_BANDS_HZ, AIR_SILENT_DB
from rtsynth.dsp.colour import COLOUR_BANDS_HZ
from rtsynth.dsp.fidelity import centroid_hz, f0_error_cents, partial_cents, sounding_span
from rtsynth.dsp.harmonic import UNBENT
from rtsynth.dsp.pitch import midi_hz
from rtsynth.engine.backends import OfflineRenderer
from rtsynth.engine.channels import ChannelState
from rtsynth.engine.config import EngineConfig
from rtsynth.engine.counters import Counters
from rtsynth.engine.decoding import decode_plans
from rtsynth.engine.direct import DirectRuntime
from rtsynth.engine.events import MorphCorner, MorphPosition, NoteOff, NoteOn, SelectTimbre
from rtsynth.engine.mixer import VoiceBank
from rtsynth.engine.notes import NoteSpec, plan_note
from rtsynth.engine.synth import create_runtime
from rtsynth.labels import latent_slices
from rtsynth.model import load_model
from rtsynth.resources import default_bundle

AUDIBLE_AIR_DB = -80.0  # dB per kHz under the note's power: a band the reference has something in
air_fields = ("model_air_db", "reference_air_db")


def pitch_error(audio: np.ndarray, sr: int, note: int, after_s: float = 0.1, until_s: float = 0.6) -> np.ndarray:
    """Cents of the lowest 8 partials from k·f0 of the key, read while the note is held."""
    start, _ = sounding_span(audio, sr)
    return partial_cents(audio[int((start + after_s) * sr) : int((start + until_s) * sr)], sr, midi_hz(note))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return make_harmonic_bundle(tmp_path_factory.mktemp("direct") / "bundle", synthesis=SYNTHESIS)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"partial_scale": None}, "synthesis.partial_scale"),
        ({"partial_scale": math.nan}, "synthesis.partial_scale"),
        ({"noise_bands_hz": [100.0, math.inf]}, "synthesis.noise_bands_hz"),
        ({"partials": 0}, "synthesis.partials"),
        ({"max_partial_hz": -1.0}, "synthesis.max_partial_hz"),
        ({"kind": "wavetable"}, "synthesis.kind"),
    ],
)
def test_bad_synthesis_parameters_are_refused_naming_the_field(tmp_path, change, field):
    synthesis = {k: v for k, v in {**SYNTHESIS, **change}.items() if v is not None}
    bad = make_harmonic_bundle(tmp_path / "bad", synthesis=synthesis)
    with pytest.raises(BundleShapeError, match=field.replace(".", r"\.")):
        read_spec(bad)


def test_a_decoder_without_the_declared_outputs_is_refused(tmp_path):
    plain = make_harmonic_bundle(tmp_path / "plain")
    spec = read_spec(plain)
    write_spec(plain, type(spec)(**{**spec.__dict__, "synthesis": dict(SYNTHESIS)}))
    with pytest.raises(BundleShapeError, match="synthesis output 'pitch_midi' is missing"):
        load_model(plain)


@pytest.mark.parametrize("rate", [48000, 44100])
@pytest.mark.parametrize("note", [50, 64, 71])
def test_render_plays_each_key_at_its_f0(bundle, tmp_path, rate, note):
    out = tmp_path / "note.wav"
    argv = ["render", "--bundle", str(bundle), "--timbre", "oboe", "--note", str(note), "--duration", "1.0"]
    assert main([*argv, "--samplerate", str(rate), "-o", str(out)]) == 0
    audio, sr = soundfile.read(out)
    assert sr == rate
    partials = pitch_error(audio, sr, note, until_s=0.8)
    assert abs(f0_error_cents(partials)) < 1.0  # the key itself: no tuning table, no resampler
    assert np.isfinite(partials[0]) and np.nanmax(np.abs(partials)) < 2.0
    start, end = sounding_span(audio, sr)
    assert end - start == pytest.approx(1.0, abs=0.2)  # held 1 s plus the release


def test_the_engine_plays_it_direct_with_no_vocoder_and_keeps_timbres_apart(bundle):
    renderer = OfflineRenderer(bundle, EngineConfig(samplerate=48000))
    assert isinstance(renderer.worker.runtime, DirectRuntime)
    assert renderer.engine.status()["vocoder"] == "harmonic-noise"
    takes = {}
    for timbre in ("flute", "trumpet"):
        events = [SelectTimbre(timbre, at=0.0), NoteOn(60, 0.8, 0.8, at=0.01), NoteOff(60, at=0.81)]
        takes[timbre] = renderer.render(events)
    for audio in takes.values():
        assert np.isfinite(audio).all() and np.abs(audio).max() < 1.0
        assert abs(f0_error_cents(pitch_error(audio, 48000, 60))) < 1.0
    a, b = (centroid_hz(t[: 48000 // 2], 48000) for t in takes.values())
    assert abs(math.log(a / b)) > 0.05  # the timbre latent shapes the partials


def test_the_shipped_model_plays_by_direct_synthesis(tmp_path):
    """Its decoder outputs the synthesis parameters it declares; nothing sounds above the 11 kHz
    its 22.05 kHz mels could teach; a rendered key sits at its f0; a second surgery is refused."""
    from rtsynth.export.synthesis_outputs import SurgeryError, export_synthesis

    spec = read_spec(default_bundle())
    assert spec.synthesis["kind"] == "harmonic-noise" and spec.synthesis["partials"] == 64
    assert spec.metrics["tuning"]["synthesis"] == "harmonic-noise"  # measured as it now plays
    model = load_model(default_bundle())
    pitch, partials, noise = model.decode_outputs(
        np.zeros((1, 20), np.float32), ("pitch_midi", "partial_power", "noise_power")
    )
    assert pitch.shape == (1,) and partials.shape == (1, 64, 256) and noise.shape == (1, 256, 256)
    runtime = create_runtime(model, EngineConfig(samplerate=48000))
    z, _ = runtime.space.note_base(72, 0.6, 1.0)
    z[latent_slices()["timbre"]] = runtime.space.timbre_means[runtime.space.timbre_index("flute")]
    audio = runtime.stream(runtime.decode(z[None])[0], 0.0, 0, note=72).advance_to(48000, 16)[4800:48000]
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    freqs = np.fft.rfftfreq(len(audio), 1 / 48000)
    assert spectrum[freqs > 11025 * 1.06].max() < 1e-4 * spectrum.max()  # nothing where it never trained
    wav = tmp_path / "flute.wav"
    assert main(["render", "--timbre", "flute", "--note", "72", "-o", str(wav)]) == 0
    audio, sr = soundfile.read(wav)
    assert abs(f0_error_cents(pitch_error(audio, sr, 72))) < 1.0
    with pytest.raises(SurgeryError, match="already plays by 'harmonic-noise' synthesis"):
        export_synthesis(default_bundle(), tmp_path / "again")


def test_the_synthesis_parameters_are_read_from_the_graph_cut_down_to_them():
    """onnxruntime runs every node whatever outputs are asked for; the parameters come from a
    session over the part of the graph they need (no mel), with the same numbers."""
    model = load_model(default_bundle())
    outputs = ("pitch_midi", "partial_power", "noise_power")
    runtime = create_runtime(model, EngineConfig(samplerate=48000))
    assert runtime.synthesis.outputs == outputs
    cut = model._cut[(outputs, None)]  # made when the runtime loaded the model, not at a note
    assert [o.name for o in cut.get_outputs()] == list(outputs)
    z = np.random.default_rng(0).standard_normal((3, 20)).astype(np.float32)
    full = model.session.run(list(outputs), {"z": z})
    for got, wanted in zip(model.decode_outputs(z, outputs), full, strict=True):
        np.testing.assert_array_equal(got, wanted)


def test_a_decoder_damaged_after_loading_is_refused_when_its_graph_is_cut(tmp_path):
    copy = make_harmonic_bundle(tmp_path / "bundle", synthesis=SYNTHESIS)
    model = load_model(copy)
    (copy / "decoder.onnx").write_bytes(b"not a graph")
    with pytest.raises(BundleShapeError, match=r"decoder\.onnx: cannot cut the graph"):
        model.prepare_outputs(("pitch_midi", "partial_power", "noise_power"))


@pytest.mark.parametrize(("timbre", "note"), [("tuba", 43), ("flute", 72), ("violin", 60)])
def test_direct_synthesis_reproduces_the_decoders_own_mel(timbre, note):
    """The synthesizer is the mel's inverse: the mel of what it plays (at the model's rate) is
    the decoder's mel within a fraction of a dB where the note has most of its energy (20 dB
    from its loudest bin; further down, a decoder tuned against audio no longer keeps its mel
    what it plays). It plays at the key, so the check needs a note whose pitch the decoder reads
    at the key (a partial read a bin off lands its noise a bin off)."""
    from rtsynth.dsp.mel import mel_power, unit_to_power

    model = load_model(default_bundle())
    runtime = create_runtime(model, EngineConfig(samplerate=model.spec.mel.sample_rate))
    z, _ = runtime.space.note_base(note, 0.6, 1.0)
    z[latent_slices()["timbre"]] = runtime.space.timbre_means[runtime.space.timbre_index(timbre)]
    pitch, _, _ = model.decode_outputs(z[None], runtime.synthesis.outputs)
    assert abs(float(pitch[0]) - note) < 0.15
    audio = runtime.stream(runtime.decode(z[None])[0], 0.0, 0, note=note).advance_to(runtime.note_samples, 16)
    held = slice(5, 30)  # frames of the held part
    played = 10 * np.log10(mel_power(audio, model.spec.mel)[:, held].mean(axis=1) + 1e-12)
    decoded = unit_to_power(model.decode(z[None])[0], 0.0, model.spec.mel.db_range)
    wanted = 10 * np.log10(decoded[:, held].mean(axis=1) + 1e-12)
    loud = wanted > wanted.max() - 20
    assert abs(np.median(played[loud] - wanted[loud])) < 1.0
    assert np.percentile(np.abs(played[loud] - wanted[loud]), 75) < 4.0


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"flute": {"pp": [0.0] * 3}}, r"key_level_db\['flute'\]\['pp'\] must be a list of 25"),
        ({"flute": {"pp": [math.nan] * 25}}, r"key_level_db\['flute'\]\['pp'\] holds nan"),
        ({"flute": {"pp": [99.0] * 25}}, r"key_level_db\['flute'\]\['pp'\] holds 99"),
    ],
)
def test_a_broken_key_level_table_is_refused_naming_the_entry(tmp_path, table, message):
    bundle = make_harmonic_bundle(tmp_path / "b", synthesis=SYNTHESIS)
    spec = read_spec(bundle)
    good = {t: {d: [0.0] * 25 for d in ("pp", "mf", "ff")} for t in spec.descriptors["timbre"].classes}
    good["flute"].update(table["flute"])
    write_spec(bundle, dataclasses.replace(spec, key_level_db=good))
    with pytest.raises(BundleShapeError, match=message):
        read_spec(bundle)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("3 lengths", r"length_error_s\['flute'\]\['mf'\] must hold \d+ rows, one per level length"),
        ("one value per length", r"length_error_s\['flute'\]\['mf'\] holds one value per length.*calibrate"),
        ("3 keys", r"length_error_s\['flute'\]\['mf'\]\[0\] must be a list of 25 s values"),
        (math.nan, r"length_error_s\['flute'\]\['mf'\]\[0\] holds nan: each value must be a finite s"),
        (1.0, r"length_error_s\['flute'\]\['mf'\]\[0\] holds 1.0"),
    ],
)
def test_a_broken_length_error_table_is_refused_naming_the_entry(tmp_path, entry, message):
    bundle = make_harmonic_bundle(tmp_path / "b", synthesis=SYNTHESIS)
    spec = read_spec(bundle)
    n = len(spec.level_lengths)
    good = {t: {d: [[0.0] * 25] * n for d in ("pp", "mf", "ff")} for t in spec.descriptors["timbre"].classes}
    broken = {"3 lengths": [[0.0] * 25] * 3, "one value per length": [0.0] * n, "3 keys": [[0.0] * 3] * n}
    good["flute"]["mf"] = broken[entry] if isinstance(entry, str) else [[entry] * 25] * n
    write_spec(bundle, dataclasses.replace(spec, length_error_s=good))
    with pytest.raises(BundleShapeError, match=message):
        read_spec(bundle)


def test_length_errors_follow_the_register_and_the_fit_reads_the_key(bundle):
    """A timbre whose keys from 60 up sound 25 ms long and whose lower ones are right, each read
    in 10.7 ms steps as the trim measure reads it: calibration stores the error per register,
    smooth despite the steps, and the engine reads a key's own; the other timbres keep none."""
    from rtsynth.engine.latent import LatentSpace
    from rtsynth.export.calibration import KeyLevel, Probe, length_error_table

    spec = read_spec(bundle)
    step = 512 / 48000
    late = {i: (2 * step if i >= 12 else step) * (i % 2) for i in range(25)}  # 0 or 2 steps high, 0 or 1 low
    levels = [KeyLevel(Probe("violin", "mf", i, 0.5), -20.0, -20.0, model_length_s=0.5 + late[i]) for i in late]
    lengths = [0.5, 1.0]
    table = length_error_table(spec, levels, lengths, step)
    low, high = np.array(table["violin"]["mf"][0][:6]), np.array(table["violin"]["mf"][0][-6:])
    assert np.all(np.abs(low - step / 2) < 0.002) and np.all(np.abs(high - step) < 0.002)
    assert table["violin"]["mf"][1] == table["violin"]["mf"][0]  # held beyond the measured length
    assert not np.any(table["flute"]["mf"]) and not np.any(table["violin"]["ff"])
    space = LatentSpace(dataclasses.replace(spec, length_error_s=table, duration_level_s=lengths, duration_level_db={}))
    violin = np.eye(len(spec.descriptors["timbre"].classes))[list(spec.descriptors["timbre"].classes).index("violin")]
    assert space.length_error_s(80 / 127, 48, 0.5, violin) == pytest.approx(table["violin"]["mf"][0][0])
    assert space.length_error_s(80 / 127, 72, 0.5, violin) == pytest.approx(table["violin"]["mf"][0][24])


def test_a_key_steps_off_its_register_keeps_its_own_length_error(bundle):
    """Keys read right but for one that sounds three steps long: its register's mean would
    leave it two steps long, so it keeps what lies beyond one step of that mean; its
    neighbours, one step off at most, keep the register's mean."""
    from rtsynth.export.calibration import KeyLevel, Probe, length_error_table

    spec = read_spec(bundle)
    step = 512 / 48000
    late = {i: (3 * step if i == 12 else 0.0) for i in range(25)}
    levels = [KeyLevel(Probe("violin", "mf", i, 0.5), -20.0, -20.0, model_length_s=0.5 + late[i]) for i in late]
    row = np.array(length_error_table(spec, levels, [0.5], step)["violin"]["mf"][0])
    register = 3 * step / 13
    assert row[12] == pytest.approx(3 * step - step, abs=1e-4)  # the register's mean plus its own beyond one step
    assert np.allclose(row[6:12], register, atol=1e-4) and np.allclose(row[13:19], register, atol=1e-4)
    assert np.allclose(row[:6], 0) and np.allclose(row[19:], 0)


def test_calibration_measures_the_same_in_one_process_or_several(bundle):
    """Notes measured in worker processes equal those measured here, in order: a render does
    not depend on the renders before it, so the worker count changes nothing but the time."""
    from rtsynth.export.calibration import Probe, ProbeJob
    from rtsynth.train.jobs import ordered_map

    probes = [Probe("violin", dyn, i, s) for dyn in ("pp", "ff") for i in (0, 12, 24) for s in (0.3, 0.5)]
    job = ProbeJob(bundle, 48000, bands_at_s=0.5)
    here, there = [job(p) for p in probes], list(ordered_map(job, probes, 2))
    assert [m.probe if m else None for m in there] == probes
    for a, b in zip(here, there, strict=True):
        assert a is not None and b is not None
        assert bool(a.model_air_db) == (a.probe.seconds == 0.5)  # the air, at its length only
        assert b.model_db == pytest.approx(a.model_db, abs=1e-6) and b.reference_db == a.reference_db
        assert b.model_length_s == a.model_length_s and b.model_air_db == pytest.approx(a.model_air_db, abs=1e-6)


@pytest.fixture(scope="module")
def calibrated(bundle, tmp_path_factory):
    """The synthetic bundle after `rtsynth calibrate` on violin."""
    out = tmp_path_factory.mktemp("calibrated") / "bundle"
    argv = ["calibrate", str(bundle), "--out", str(out), "--timbres", "violin", "--seconds", "0.5"]
    assert main(argv) == 0
    return out


def test_calibration_brings_each_key_to_the_reference_level_and_colour_above_11_khz(calibrated):
    """`rtsynth calibrate` on one timbre: afterwards every key it measured plays at the
    reference renderer's level, the velocity curve follows, the noise the reference has above
    the decoder's bands (the synthetic decoder has none) sounds at the reference's density, and
    the other timbres are untouched."""
    from rtsynth.dsp.fidelity import rms_db
    from rtsynth.export.calibration import SHORT_UP_TO_S, CalibrationOptions, covered_keys, measure_levels

    out = calibrated
    spec = read_spec(out)
    assert set(spec.key_level_db) == set(spec.descriptors["timbre"].classes)
    assert any(
        abs(v) > 1.0 for v in spec.key_level_db["violin"]["mf"]
    )  # the synthetic model is not at the reference's level
    assert all(v == 0.0 for v in spec.key_level_db["flute"]["mf"])
    assert set(spec.duration_level_db) == set(spec.descriptors["timbre"].classes)
    assert not np.any(list(spec.duration_level_db["flute"].values()))
    assert all(np.any(spec.duration_level_db["violin"][dyn]) for dyn in ("pp", "mf", "ff"))
    assert spec.air_bands_hz == list(AIR_BANDS_HZ)
    assert np.all(np.array(spec.air_db["flute"]["ff"]) == AIR_SILENT_DB)
    options = CalibrationOptions(seconds=0.5, timbres=("violin",))
    after = measure_levels(out, spec, covered_keys(out, spec, options), options)
    errors = np.array([m.difference for m in after if m.probe.seconds == 0.5])
    assert len(errors) > 40 and np.max(np.abs(errors)) < 1.0
    assert not np.any(list(spec.length_error_s["flute"].values()))
    assert np.max(spec.length_error_s["violin"]["mf"]) > 0.02  # the synthetic model's notes sound long
    lengths = np.array([m.model_length_s - m.probe.seconds for m in after])
    assert np.mean(np.abs(lengths) <= 0.02) >= 0.95  # fitted to that much less, they sound the length asked
    others = np.array([m.difference for m in after if m.probe.seconds != 0.5])
    assert len(others) > 40 and np.max(np.abs(others)) < 1.0  # the per-length levels bring each to the reference's
    short = np.array([m.difference for m in after if m.probe.seconds <= SHORT_UP_TO_S])
    assert len(short) > 40 and np.max(np.abs(short)) < 0.1  # set at the lengths they play (0.84 dB off at 0.1 s if not)
    model_air, ref_air = (np.array([getattr(m, f) for m in after if m.model_air_db]) for f in air_fields)
    heard = ref_air > AUDIBLE_AIR_DB  # bands the reference has something in
    assert heard.sum() > 20 and np.max((ref_air - model_air)[heard]) < 1.5  # no band lacks
    assert np.median(np.abs(model_air - ref_air)[heard]) < 0.5  # (the top band hears its neighbour's slope)
    renderer = OfflineRenderer(out, EngineConfig(samplerate=48000))
    from rtsynth.render import NoteRequest, note_events

    soft, loud = (rms_db(renderer.render(note_events(NoteRequest(60, v, 0.5, "violin"))), 48000) for v in (33, 112))
    ref = {m.probe.dynamics: m.reference_db for m in after if m.probe.pitch_index == 12 and m.probe.seconds == 0.5}
    assert loud - soft == pytest.approx(ref["ff"] - ref["pp"], abs=1.0)


def test_calibrating_the_air_alone_keeps_the_level_tables(bundle, calibrated, tmp_path, caplog):
    """`--only air` measures each key at one length and sets only the air: the level tables a
    full calibration made stay as they were but for the level the air itself adds. A bundle
    without noise bands has no air to set."""
    out = tmp_path / "air"
    argv = ["calibrate", str(calibrated), "--out", str(out), "--timbres", "violin", "--seconds", "0.5", "--only", "air"]
    assert main(argv) == 0
    before, after = read_spec(calibrated), read_spec(out)
    assert after.duration_level_db == before.duration_level_db
    moved = np.array(after.key_level_db["violin"]["mf"]) - np.array(before.key_level_db["violin"]["mf"])
    assert np.max(np.abs(moved)) < 0.5
    assert after.model["key_levels"] == before.model["key_levels"]
    assert np.any(np.array(list(after.air_db["violin"].values())) > AIR_SILENT_DB)
    mel = make_harmonic_bundle(tmp_path / "mel")
    assert main(["calibrate", str(mel), "--out", str(tmp_path / "no"), "--only", "air"]) == 2
    assert (
        caplog.records[-1]
        .getMessage()
        .endswith("has no air to calibrate: it does not play by harmonic-noise synthesis")
    )
    assert not (tmp_path / "no").exists()


def test_keys_outside_a_timbres_range_are_held_at_its_nearest_keys_level(calibrated, tmp_path):
    """The reference has no note outside a timbre's range, and there the decoder's own level
    drifts where it never heard the timbre (the shipped tuba's 108 sounded 7 dB over its 65).
    `rtsynth calibrate` ends by playing each such key at the level of the nearest key the timbre
    covers; `--only outside` does that alone. Here the violin's keys under its range (48-54; it
    starts at 55) are first pushed up 1 dB a key, as a drifting decoder would play them; the
    pass puts them back, at every dynamics, and moves nothing else."""
    from rtsynth.dsp.fidelity import rms_db
    from rtsynth.render import NoteRequest, note_events

    def levels(bundle, velocity):
        renderer = OfflineRenderer(bundle, EngineConfig(samplerate=48000))
        notes = [note_events(NoteRequest(note, velocity, 0.5, "violin")) for note in range(48, 56)]
        return np.array([rms_db(renderer.render(events), 48000) for events in notes])

    spec = read_spec(calibrated)
    mf = spec.velocity_to_dynamics["mf"]
    fresh = levels(calibrated, mf)  # a full calibration holds them
    assert np.max(np.abs(fresh[:-1] - fresh[-1])) < 0.5, np.round(fresh, 1)
    drifted, out = tmp_path / "drifted", tmp_path / "held"
    shutil.copytree(calibrated, drifted)
    table = {t: {d: list(row) for d, row in rows.items()} for t, rows in spec.key_level_db.items()}
    for row in table["violin"].values():
        row[:7] = [v + 7 - i for i, v in enumerate(row[:7])]
    write_spec(drifted, dataclasses.replace(spec, key_level_db=table))
    assert levels(drifted, mf)[0] - levels(drifted, mf)[-1] > 6
    argv = ["calibrate", str(drifted), "--out", str(out), "--timbres", "violin", "--seconds", "0.5"]
    assert main([*argv, "--only", "outside"]) == 0
    for velocity in spec.velocity_to_dynamics.values():
        played = levels(out, velocity)
        assert np.max(np.abs(played[:-1] - played[-1])) < 0.5, (velocity, np.round(played, 1))
    held = read_spec(out)
    assert all(held.key_level_db["violin"][d][7:] == table["violin"][d][7:] for d in table["violin"])
    assert held.key_level_db["flute"] == spec.key_level_db["flute"]
    assert held.duration_level_db == spec.duration_level_db and held.air_db == spec.air_db


def test_calibrated_levels_hold_between_the_lengths_calibration_measured(calibrated):
    """A short note's reference level climbs steeply with its length while the model's steps
    where the note switches duration class: at lengths calibration did not measure (between the
    classes and its finer short lengths, and across a switch) the level stays near the
    reference's. Measured only at the classes, a fifth of these notes were over 2 dB off, the
    worst 5 dB."""
    from rtsynth.dsp.fidelity import rms_db
    from rtsynth.export.calibration import level_lengths
    from rtsynth.render import NoteRequest, note_events
    from rtsynth.train.corpus.gm import NoteSynth, load_gm_config, reference_note

    spec = read_spec(calibrated)
    assert spec.duration_level_s == level_lengths(spec.vocab.duration)
    assert len(spec.duration_level_db["violin"]["mf"]) == len(spec.duration_level_s)
    renderer = OfflineRenderer(calibrated, EngineConfig(samplerate=48000))
    reference = NoteSynth(dataclasses.replace(load_gm_config(), sample_rate=48000))
    velocity = spec.velocity_to_dynamics["mf"]
    errors = np.array(
        [
            rms_db(renderer.render(note_events(NoteRequest(note, velocity, seconds, "violin"))), 48000)
            - rms_db(reference.sounding(reference_note("violin", note, "mf", velocity, seconds)), 48000)
            for note in (57, 62, 67, 72)
            for seconds in (0.28, 0.33, 0.37, 0.42, 0.47, 0.58, 0.63, 0.68, 0.9)
        ]
    )
    assert np.mean(np.abs(errors) <= 2.0) >= 0.9 and np.max(np.abs(errors)) < 3.0, np.round(errors, 1)


def test_noise_stands_in_for_partials_only_where_the_ear_cannot_resolve_them():
    """Air plays as noise only in bands where a key's partials lie closer than half an ERB: a
    high note's partials up there are heard one by one, and noise would fill their gaps."""
    from rtsynth.dsp.air import unresolved

    assert unresolved(midi_hz(60), AIR_BANDS_HZ).all()  # 262 Hz apart: dense
    assert not unresolved(midi_hz(96), AIR_BANDS_HZ).any()  # 2.1 kHz apart: each heard
    assert unresolved(midi_hz(80), AIR_BANDS_HZ).tolist() == [False, False, False, True, True, True]


def test_air_in_a_band_whose_partials_are_resolved_goes_to_those_partials():
    """A high note's air band plays as its partials k·f0 inside the band, each with the power
    the band's noise has over the f0 Hz it stands for; an unresolved band stays noise."""
    from rtsynth.dsp.air import partial_air
    from rtsynth.dsp.harmonic import NOISE_DENSITY_RATE

    centres = (10000.0, *AIR_BANDS_HZ)
    f0 = midi_hz(96)  # every air band resolved
    weights, resolved = partial_air(f0, 12, centres, 1)
    assert resolved.all() and weights.shape == (6, 12)
    k = np.arange(1, 13)
    assert np.all(weights[:, k * f0 <= centres[0]] == 0.0)  # under the decoder's top band: nothing
    gains = np.array([0.01, 0.02, 0.03, 0.04, 0.05, 0.06])
    density = np.interp(k * f0, centres, [0.0, *gains]) ** 2 / (NOISE_DENSITY_RATE / 2)  # the bands' noise there
    np.testing.assert_allclose((gains @ weights) ** 2 / 2, density * f0, rtol=1e-9)
    weights, resolved = partial_air(midi_hz(80), 12, centres, 1)
    assert resolved.tolist() == [True, True, True, False, False, False]
    assert np.all(weights[~resolved] == 0.0)


def test_air_bands_lie_above_the_decoders_own_noise(bundle):
    """Calibration adds air bands only above the decoder's noise bands, and none to a bundle that
    plays through a mel and vocoder (whose runtime has no noise bands to add them to)."""
    from rtsynth.export.calibration import air_bands

    spec = read_spec(bundle)
    assert air_bands(spec) == AIR_BANDS_HZ
    wide = {**SYNTHESIS, "noise_bands_hz": [100.0, 1600.0, 21000.0]}
    assert air_bands(dataclasses.replace(spec, synthesis=wide)) == (23000.0,)
    assert air_bands(dataclasses.replace(spec, synthesis={})) == ()


def density_at_centres(y: np.ndarray, sr: int) -> np.ndarray:
    """dB per kHz relative to the note's power within 1 % of each air band's centre below
    Nyquist, where the band's gain alone sets the density (a measure over the whole band also
    hears its neighbours)."""
    spectrum = np.abs(np.fft.rfft(y.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(y), 1.0 / sr)
    below = [f for f in AIR_BANDS_HZ if f < sr / 2]
    per_hz = [spectrum[np.abs(freqs - f) < 0.01 * f].mean() / spectrum.sum() / (sr / len(y)) for f in below]
    return 10 * np.log10(np.array(per_hz) * 1000.0 + 1e-30)


@pytest.mark.parametrize("rate", [48000, 44100])
def test_air_bands_play_at_the_tables_density_and_only_below_nyquist(bundle, tmp_path, rate):
    """A bundle with an air table plays noise above its decoder's bands at the table's density
    relative to the note's power; bands above the output's Nyquist are left out; the note's
    level hardly moves. Without the table nothing sounds there."""
    from rtsynth.dsp.fidelity import rms_db
    from rtsynth.render import NoteRequest, note_events

    spec = read_spec(bundle)
    wanted = np.array([-30.0, -33.0, -36.0, -39.0, -42.0, -45.0])
    n = len(spec.descriptors["pitch"].classes)
    table = {t: {d: [[AIR_SILENT_DB] * len(AIR_BANDS_HZ)] * n for d in ("pp", "mf", "ff")} for t in spec.loudness_db}
    table["flute"]["mf"] = [wanted.tolist()] * n
    air = tmp_path / "air"
    shutil.copytree(bundle, air)
    write_spec(air, dataclasses.replace(spec, air_bands_hz=list(AIR_BANDS_HZ), air_db=table))
    request = note_events(NoteRequest(62, spec.velocity_to_dynamics["mf"], 1.0, "flute"))
    plain, airy = (OfflineRenderer(b, EngineConfig(samplerate=rate)).render(request) for b in (bundle, air))
    below = np.array(AIR_BANDS_HZ) < rate / 2
    assert below.sum() == (6 if rate == 48000 else 5)
    assert np.max(np.abs(density_at_centres(airy, rate) - wanted[below])) < 1.0
    assert np.all(density_at_centres(plain, rate) < wanted[below] - 40)  # without the table: nothing
    assert abs(rms_db(airy, rate) - rms_db(plain, rate)) < 0.3


def test_a_rerender_continues_the_note_without_a_seam(bundle):
    """A re-render mid-note (here: the timbre moved to where it already was) opens a stream that
    continues the old one's phases, so the splice crossfades by amplitude and the audio runs on
    as if nothing happened; a power crossfade would swell by up to 3 dB there."""
    events = [SelectTimbre("oboe", at=0.0), NoteOn(64, 0.8, 1.5, at=0.01)]
    plain = OfflineRenderer(bundle, EngineConfig(samplerate=48000))
    moved = OfflineRenderer(bundle, EngineConfig(samplerate=48000))
    a = plain.render(events)
    b = moved.render([*events, SelectTimbre("oboe", at=0.5)])
    assert moved.engine.counters["rerenders"] >= 1
    n = min(len(a), len(b))
    assert np.max(np.abs(a[:n] - b[:n])) < 1e-3 * np.max(np.abs(a))


@pytest.mark.parametrize("vocoder_path", [False, True])
def test_a_timbre_mix_sounds_between_its_timbres_levels(bundle, tmp_path, vocoder_path):
    """Half one timbre, half the other: the decoder alone plays such a latent at a level of its
    own (here a geometric mean of two spectra, quieter than either); the engine sets it to the
    weighted dB mean of the two timbres' levels, so a morph neither dips nor swells."""
    from rtsynth.dsp.fidelity import rms_db

    played = bundle
    if vocoder_path:  # the mel path reads the level from the mel the same way
        played = make_harmonic_bundle(tmp_path / "mel")

    def level(x: float) -> float:
        events = [MorphCorner("a", "flute", at=0.0), MorphCorner("b", "trumpet", at=0.0), MorphPosition(x, at=0.0)]
        events += [NoteOn(62, 0.8, 0.8, at=0.01), NoteOff(62, at=0.81)]
        return rms_db(OfflineRenderer(played, EngineConfig(samplerate=48000)).render(events), 48000)

    ends = level(0.0), level(1.0)
    assert abs(level(0.5) - sum(ends) / 2) < 0.3, (ends, level(0.5))


def test_the_engine_builds_every_keys_noise_shares_before_it_plays():
    """The noise shares of a key's pitch cost a note 1 ms of its decode when built on the spot;
    a loaded runtime has them for every key, whatever the timbre and velocity."""
    model = load_model(default_bundle())
    runtime = create_runtime(model, EngineConfig(samplerate=48000))
    assert isinstance(runtime, DirectRuntime)
    runtime.warm_up()
    known = dict(runtime.reader.bins._known)
    for timbre, note, velocity in [("tuba", 30, 0.2), ("flute", 84, 0.9), ("violin", 61, 0.5)]:
        z, _ = runtime.space.note_base(note, velocity, 1.0)
        z[latent_slices()["timbre"]] = runtime.space.timbre_means[runtime.space.timbre_index(timbre)]
        runtime.decode(z[None])
    assert runtime.reader.bins._known.keys() == known.keys()


@pytest.mark.parametrize("duration", [None, 1.0, 0.03])
def test_a_note_started_on_its_first_frames_plays_what_its_whole_decode_plays(duration):
    """A new note goes to the mixer once its frames 0 and 1 are decoded alone and read, the rest
    decoded and read after: its samples are those of the note decoded whole, air bands and
    length fit and colour included. A note so short that the fit reaches its first frames is decoded whole."""
    runtime = create_runtime(load_model(default_bundle()), EngineConfig(samplerate=48000))
    space, stats = runtime.space, Counters(VoiceBank(1, 16))
    spec = NoteSpec(0, 0, 67, 0.55, duration, space.timbre_index("flute"), 0.0, 0.0, 0)
    plan = plan_note(spec, ChannelState.fresh(space).timeline, space, runtime.framing)
    assert plan.air is not None and plan.colour is not None  # the shipped model has air bands and colour
    ((params, peak),) = decode_plans(runtime, [plan], stats)
    whole = runtime.stream(params, peak, 0, note=67).advance_to(runtime.note_samples, 16)
    heads = runtime.heads([plan], [67], [0.55], [UNBENT])
    if duration == 0.03:
        assert heads is None
        return
    assert heads is not None
    (head,) = heads
    assert runtime.outputs(plan.z, lead=2)[0].partials.shape[1] == 8  # of 256: what it decodes first
    first = head.first(256)
    assert len(first) == 256 and head.peak_db == peak
    finished = head.finish(stats)
    rest = head.stream.advance_to(runtime.note_samples, 16)
    np.testing.assert_allclose(finished, params, rtol=1e-5, atol=1e-7)
    started = np.concatenate([first, rest])
    assert np.max(np.abs(started - whole)) < 1e-5 * np.max(np.abs(whole))


@pytest.mark.parametrize("velocity", [0.55, "mf"])
def test_a_held_note_starts_from_the_head_table_then_fades_into_its_own_first_frames(velocity):
    """Once a timbre's keys are read ahead, a never-rendered held note's head (its first 4
    blocks) is blended from the table's two velocities nearest its own (within 0.7 dB of its
    own; the same samples at a velocity the table holds), then fades into its own frames over
    2.5 ms, and from there it plays the samples of the note decoded whole, with its own
    parameters."""
    runtime = create_runtime(load_model(default_bundle()), EngineConfig(samplerate=48000))
    assert isinstance(runtime, DirectRuntime)
    space, stats = runtime.space, Counters(VoiceBank(1, 16))
    flute = space.timbre_index("flute")
    velocity = float(space.dynamics_velocity[1]) if velocity == "mf" else velocity
    spec = NoteSpec(0, 0, 67, velocity, None, flute, 0.0, 0.0, 0)
    plan = plan_note(spec, ChannelState.fresh(space).timeline, space, runtime.framing)
    ((params, peak),) = decode_plans(runtime, [plan], stats)
    whole = runtime.stream(params, peak, 0, note=67).advance_to(runtime.note_samples, 16)

    def head():
        heads = runtime.heads([plan], [67], [velocity], [UNBENT])
        assert heads is not None
        return heads[0]

    assert not head().from_table  # nothing read yet: the flute's keys are read first now
    while (flute, 67) not in runtime.head_table.rows:
        assert runtime.prepare_step()
    assert {timbre for timbre, _ in runtime.head_table.rows} == {flute}
    started = head()
    assert started.from_table
    first, more = started.first(128), started.first(384)
    finished = started.finish(stats)
    played = np.concatenate([first, more, started.stream.advance_to(runtime.note_samples, 16)])
    np.testing.assert_allclose(finished, params, rtol=1e-5, atol=1e-7)
    settled = 512 + round(0.0025 * 48000)
    assert np.max(np.abs(played[settled:] - whole[settled:])) < 1e-5 * np.max(np.abs(whole))
    assert abs(10 * np.log10(np.mean(played[:512] ** 2) / np.mean(whole[:512] ** 2))) < 0.7
    steps = np.abs(np.diff(played[:settled]))
    assert steps.max() <= 1.05 * np.abs(np.diff(whole[:settled])).max()
    if velocity == space.dynamics_velocity[1]:
        assert np.max(np.abs(played - whole)) < 1e-5 * np.max(np.abs(whole))
    timed = NoteSpec(0, 0, 67, velocity, 1.0, flute, 0.0, 0.0, 0)  # another latent: its length's
    heads = runtime.heads(
        [plan_note(timed, ChannelState.fresh(space).timeline, space, runtime.framing)], [67], [velocity], [UNBENT]
    )
    assert heads is not None and not heads[0].from_table


def colour_table(spec, timbre: str, dyn: str, row: list[float]) -> dict:
    """A colour table with `row` at one timbre and dynamics on every key, none elsewhere."""
    n = len(spec.descriptors["pitch"].classes)
    table = {t: {d: [[0.0] * len(COLOUR_BANDS_HZ)] * n for d in ("pp", "mf", "ff")} for t in spec.loudness_db}
    table[timbre][dyn] = [row] * n
    return table


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour_db": "nan"}, r"colour_db\['flute'\]\['mf'\]\[0\] holds nan"),
        ({"colour_db": 30.0}, r"colour_db\['flute'\]\['mf'\]\[0\] holds 30.0"),
        (
            {"colour_db": "3 bands"},
            rf"colour_db\['flute'\]\['mf'\]\[0\] must be a list of {len(COLOUR_BANDS_HZ)} dB values",
        ),
        ({"colour_bands_hz": [100.0, 50.0]}, r"colour_bands_hz must be increasing"),
    ],
)
def test_a_broken_colour_table_is_refused_naming_the_entry(tmp_path, change, message):
    bundle = make_harmonic_bundle(tmp_path / "b", synthesis=SYNTHESIS)
    spec = read_spec(bundle)
    value = change.get("colour_db", 0.0)
    row = [0.0] * 3 if value == "3 bands" else [math.nan if value == "nan" else value] * len(COLOUR_BANDS_HZ)
    bands = change.get("colour_bands_hz", list(COLOUR_BANDS_HZ))
    table = colour_table(spec, "flute", "mf", row)
    write_spec(bundle, dataclasses.replace(spec, colour_bands_hz=bands, colour_db=table))
    with pytest.raises(BundleShapeError, match=message):
        read_spec(bundle)


def partial_db(y: np.ndarray, sr: int, f0: float, partials: int) -> np.ndarray:
    """Each partial's level: the strongest bin within a quarter of f0 of k·f0, dB."""
    spectrum = 10 * np.log10(np.abs(np.fft.rfft(y.astype(np.float64) * np.hanning(len(y)))) ** 2 + 1e-30)
    freqs = np.fft.rfftfreq(len(y), 1.0 / sr)
    return np.array([spectrum[np.abs(freqs - k * f0) < f0 / 4].max() for k in range(1, partials + 1)])


def test_a_colour_table_scales_each_partial_by_its_key_and_band(bundle, tmp_path):
    """A bundle whose flute mf colour cuts the bands from 1 to 4 kHz by 20 dB plays those
    partials 20 dB under the ones well below, as loud a note as before; the other dynamics as
    before."""
    from rtsynth.dsp.fidelity import rms_db
    from rtsynth.render import NoteRequest, note_events

    spec = read_spec(bundle)
    cut = [(-20.0 if 1000 <= f <= 4000 else 0.0) for f in COLOUR_BANDS_HZ]
    coloured = tmp_path / "coloured"
    shutil.copytree(bundle, coloured)
    table = colour_table(spec, "flute", "mf", cut)
    write_spec(coloured, dataclasses.replace(spec, colour_bands_hz=list(COLOUR_BANDS_HZ), colour_db=table))
    f0, sr = midi_hz(55), 48000
    freqs = f0 * np.arange(1, 17)
    in_cut = [f for f, c in zip(COLOUR_BANDS_HZ, cut, strict=True) if c]
    inside, below = (freqs >= min(in_cut)) & (freqs <= max(in_cut)), freqs < 600
    for dyn, drop in (("mf", 20.0), ("ff", 0.0)):
        request = note_events(NoteRequest(55, spec.velocity_to_dynamics[dyn], 1.0, "flute"))
        plain, changed = (OfflineRenderer(b, EngineConfig(samplerate=sr)).render(request) for b in (bundle, coloured))
        held = slice(int(0.2 * sr), int(0.8 * sr))
        before = partial_db(plain[held], sr, f0, 16)
        moved = partial_db(changed[held], sr, f0, 16) - before
        present = before > np.median(before) - 10  # the synthetic decoder leaves some partials out
        assert (inside & present).sum() >= 4 and (below & present).sum() >= 2
        moved -= np.mean(moved[below & present])  # what the cut moved, against the partials it left
        assert np.allclose(moved[inside & present], -drop, atol=1.0), moved
        assert np.allclose(moved[below & present], 0.0, atol=0.5), moved
        assert rms_db(changed, sr) == pytest.approx(rms_db(plain, sr), abs=0.2)


def test_a_moving_note_takes_each_keys_colour_frame_by_frame(bundle, tmp_path):
    """A note between two decoder keys whose colours differ (a morph): its first frame takes
    the first key's colour, its last the second's, in between their blend, each partial at its
    own frequency (none above the colour bands), each frame keeping its power."""
    from rtsynth.engine.notes import NotePlan

    spec = read_spec(bundle)
    coloured = tmp_path / "coloured"
    shutil.copytree(bundle, coloured)
    table = colour_table(spec, "flute", "mf", [-20.0] * len(COLOUR_BANDS_HZ))
    write_spec(coloured, dataclasses.replace(spec, colour_bands_hz=list(COLOUR_BANDS_HZ), colour_db=table))
    runtime = create_runtime(load_model(coloured), EngineConfig(samplerate=48000))
    assert isinstance(runtime, DirectRuntime)
    frames, bands = 8, len(COLOUR_BANDS_HZ)
    z = np.zeros((2, runtime.space.layout.size), dtype=np.float32)
    plan = NotePlan(
        z, np.zeros(2), np.linspace(0, 1, frames), 0.0, colour=np.array([[0.0] * bands, [-20.0] * bands]), note=100
    )
    params = np.ones((runtime.partials + len(runtime.bands), frames), dtype=np.float32)
    out = runtime.coloured(params, plan)
    partials = out[: runtime.partials]
    below_top = np.arange(1, runtime.partials + 1) * midi_hz(100) <= 11000.0  # the partials under the colour bands
    assert below_top.sum() == 4 and len(below_top) > 4
    np.testing.assert_allclose(partials[:, 0], partials[0, 0], rtol=1e-6)  # the first key: none
    ratio = partials[below_top] / partials[~below_top][0]  # against a partial above the colour bands
    np.testing.assert_allclose(ratio[:, -1], 0.1, rtol=1e-5)
    np.testing.assert_allclose(ratio[:, frames // 2], 10 ** (-20 * 4 / 7 / 20), rtol=1e-4)
    np.testing.assert_allclose(runtime.frame_power(out), runtime.frame_power(params), rtol=1e-5)  # each frame's power


def test_a_keys_colour_change_is_the_log_mel_the_model_lacks_band_by_band():
    """A tone whose partials from 1.1 to 1.9 kHz are 10 dB under the reference's needs those
    bands 10 dB up and the ones below left alone; where it has no partials at all (above 3
    kHz) no boost is asked: the decoder wrote silence there, which no gain raises. The same
    at 44.1 kHz."""
    from rtsynth.dsp.colour import colour_change_db

    def tone(sr: int, gain) -> np.ndarray:
        t = np.arange(sr) / sr
        return sum(gain(k * 220.0) * np.sin(2 * np.pi * k * 220.0 * t) / k for k in range(1, 21)) * np.hanning(sr)

    centres = np.array(COLOUR_BANDS_HZ)
    cut, below, above = (centres > 1150) & (centres < 1850), (centres > 300) & (centres < 900), centres > 3200
    for sr in (48000, 44100):
        ref = tone(sr, lambda f: 1.0)
        model = tone(sr, lambda f: 0.0 if f > 3000 else (10 ** (-10 / 20) if 1100 <= f <= 1900 else 1.0))
        change = colour_change_db(model, ref, sr)
        assert np.median(change[cut]) == pytest.approx(10.0, abs=1.0), change[cut]
        assert np.all(np.abs(change[below]) < 0.5) and np.all(change[above] == 0.0), change


def test_a_colour_reaches_each_row_between_the_band_centres_around_it():
    """A row at a band's centre takes that band's dB; between two centres their blend in log
    frequency; below the lowest the lowest's; above the colour bands' top nothing."""
    from rtsynth.dsp.colour import ColourReach

    centres = (100.0, 400.0, 1600.0)
    colour = np.array([-6.0, 0.0, 12.0])
    reach = ColourReach.at(np.array([400.0, 200.0, 50.0, 3000.0, 12000.0]), centres)
    np.testing.assert_allclose(reach.db(colour), [0.0, -3.0, -6.0, 12.0, 0.0], atol=1e-5)
    frames = np.stack([colour, 2 * colour], axis=1)
    np.testing.assert_allclose(reach.db(frames)[:, 1], 2 * reach.db(colour), atol=1e-5)


def test_a_colour_calibrated_in_other_bands_is_carried_over_to_the_new_ones(tmp_path):
    """Calibrating a bundle whose colour was measured in other bands (an earlier calibration's)
    starts each new band from the old table read between its centres, as the engine plays it:
    the new pass measures the note with that colour on, so it adds to it, not to nothing."""
    from rtsynth.export.calibration import colour_table

    spec = read_spec(make_harmonic_bundle(tmp_path / "b", synthesis=SYNTHESIS))
    old_bands, old_row = [250.0, 1000.0, 4000.0], [-6.0, 0.0, 6.0]
    n = len(spec.descriptors["pitch"].classes)
    old = {t: {d: [old_row] * n for d in ("pp", "mf", "ff")} for t in spec.loudness_db}
    table = colour_table(dataclasses.replace(spec, colour_bands_hz=old_bands, colour_db=old), [])
    played = np.interp(np.log(COLOUR_BANDS_HZ), np.log(old_bands), old_row)  # held beyond the end centres
    assert np.abs(played).max() == 6.0
    for timbre, dyn in (("flute", "mf"), ("violin", "ff")):
        np.testing.assert_allclose(table[timbre][dyn], [played] * n, atol=0.051)  # kept to 0.1 dB


def test_calibration_brings_each_keys_colour_towards_the_reference(bundle, calibrated):
    """The synthetic decoder's log-mel bands lie some 9 dB from the reference violin's; one pass
    of calibration takes each key's a fifth or more closer (many of its bands lie further off
    than one pass may move them), and the timbres not calibrated keep no colour."""
    from rtsynth.export.calibration import Probe, ProbeJob

    spec = read_spec(calibrated)
    assert spec.colour_bands_hz == list(COLOUR_BANDS_HZ)
    assert np.any(spec.colour_db["violin"]["mf"]) and not np.any(spec.colour_db["flute"]["mf"])

    def band_error(b) -> float:
        job, errors = ProbeJob(b, 48000, bands_at_s=0.5), []
        for dyn in ("pp", "ff"):
            for key in range(0, 25, 4):
                m = job(Probe("violin", dyn, key, 0.5))
                assert m is not None
                errors.append(np.mean(np.abs(m.colour_change_db)))
        return float(np.median(errors))

    before, after = band_error(bundle), band_error(calibrated)
    assert before > 5 and after < 0.8 * before, (before, after)
