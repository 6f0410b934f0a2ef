"""Direct synthesis end to end: harmonic-noise bundles validated at load, rendered by `rtsynth
render` at 48 and 44.1 kHz with every key in tune, played by the engine, and the shipped
model given direct synthesis by ONNX surgery."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from harmonic_bundle import SYNTHESIS, make_harmonic_bundle

from rtsynth.bundle import BundleShapeError, read_spec, write_spec
from rtsynth.cli import main
from rtsynth.engine.backends import OfflineRenderer
from rtsynth.engine.config import EngineConfig
from rtsynth.engine.direct import DirectRuntime
from rtsynth.engine.events import NoteOff, NoteOn, SelectTimbre
from rtsynth.engine.synth import create_runtime
from rtsynth.labels import latent_slices
from rtsynth.model import load_model
from rtsynth.resources import default_bundle

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from fidelity_measures import centroid_hz, f0_error_cents, midi_hz, partial_cents, sounding_span


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


def test_shipped_model_gets_direct_synthesis_by_surgery(tmp_path):
    pytest.importorskip("onnx")
    from rtsynth.export.synthesis_outputs import export_synthesis

    out = export_synthesis(default_bundle(), tmp_path / "direct")
    spec = read_spec(out)
    assert spec.synthesis["kind"] == "harmonic-noise" and spec.synthesis["partials"] == 64
    model = load_model(out)
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
    assert main(["render", "--bundle", str(out), "--timbre", "flute", "--note", "72", "-o", str(wav)]) == 0
    audio, sr = soundfile.read(wav)
    assert abs(f0_error_cents(pitch_error(audio, sr, 72))) < 1.0
