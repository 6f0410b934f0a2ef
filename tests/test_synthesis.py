"""Direct harmonic-plus-noise synthesis: pitch, continuity, noise level, and the torch twin's parity."""

from __future__ import annotations

import numpy as np
import pytest

from rtsynth.dsp.fidelity import cents, partial_cents
from rtsynth.dsp.harmonic import (
    NO_VIBRATO,
    UNBENT,
    BendCurve,
    HarmonicStream,
    SampleVibrato,
    SynthFrames,
    noise_offset,
    synthesize,
)


def fundamental_cents(window: np.ndarray, rate: int, hz: float) -> float:
    """The fundamental's frequency in a short window, in cents from `hz` (finely zero-padded FFT)."""
    spectrum = np.abs(np.fft.rfft(window * np.hanning(len(window)), 1 << 18))
    freqs = np.fft.rfftfreq(1 << 18, 1 / rate)
    near = np.abs(cents(np.maximum(freqs, 1.0), hz)) < 300
    return float(cents(freqs[near][np.argmax(spectrum[near])], hz))


BANDS = tuple(float(f) for f in np.geomspace(80.0, 20000.0, 12))


def frames(f0: float | np.ndarray, n_frames: int = 60, partials: int = 24, noise: float = 0.0) -> SynthFrames:
    f0s = np.broadcast_to(np.asarray(f0, dtype=np.float64), (n_frames,)).copy()
    amps = np.tile(0.3 / np.arange(1, partials + 1), (n_frames, 1))
    amps[:5] *= np.linspace(0, 1, 5)[:, None]  # an attack across the first frames
    return SynthFrames(f0s, amps, np.full((n_frames, len(BANDS)), noise), 0.02)


def test_a_sustain_loop_plays_its_frames_back_and_forth_for_as_long_as_it_is_read():
    """Past the loop's last frame a note reads the frames between the loop's ends back and
    forth, as a sampler holds a note: a partial whose amplitude climbs over the loop (frames 8
    to 12) then falls back to frame 8's and climbs again, read far past the 20 frames. One phase
    runs on, so the waveform never steps more than a sine of that amplitude does."""
    rate, hz, n = 48000, 220.0, 20
    amplitude = np.linspace(0.1, 0.5, n)[:, None]
    looped = SynthFrames(np.full(n, hz), amplitude, np.zeros((n, len(BANDS))), 0.02, loop=(8, 12))
    audio = synthesize(looped, rate, BANDS, 2 * rate)  # 100 frames long
    peaks = np.array([np.abs(audio[i * 960 : (i + 1) * 960]).max() for i in range(100)])  # one per frame
    expected = np.interp(8 + np.abs((np.arange(100) + 0.5 - 8 + 4) % 8 - 4), np.arange(n), amplitude[:, 0])
    beyond = np.arange(100) >= 13
    np.testing.assert_allclose(peaks[beyond], expected[beyond], atol=0.02)
    assert np.abs(np.diff(audio)).max() <= 2 * np.pi * hz / rate * 0.5 * 1.01
    with pytest.raises(ValueError, match="sustain loop"):
        SynthFrames(np.full(n, hz), amplitude, np.zeros((n, len(BANDS))), 0.02, loop=(12, 8))


@pytest.mark.parametrize("rate", [48000, 44100])
@pytest.mark.parametrize("key", [33, 60, 96])
def test_partials_sit_at_k_f0_at_either_rate(rate, key):
    hz = 440 * 2 ** ((key - 69) / 12)
    audio = synthesize(frames(hz), rate, BANDS, rate)
    found = partial_cents(audio[rate // 5 :], rate, hz)
    assert np.isfinite(found[0]) and np.nanmax(np.abs(found)) < 1.0


def test_nothing_above_nyquist():
    rate = 44100
    audio = synthesize(frames(3000.0, partials=40), rate, BANDS, rate)  # partials 8+ are past 22 kHz
    spectrum = np.abs(np.fft.rfft(audio[rate // 5 :]))
    freqs = np.fft.rfftfreq(len(audio[rate // 5 :]), 1 / rate)
    aliases = spectrum[(freqs > 100) & (np.abs((freqs / 3000.0) - np.round(freqs / 3000.0)) > 0.05)]
    assert 20 * np.log10(aliases.max() / spectrum.max()) < -80


def test_spans_join_into_the_whole_note_and_a_mid_note_start_agrees():
    f = frames(np.linspace(220, 233, 60), noise=0.01)  # a glide: the phase must be carried, not reset
    whole = synthesize(f, 48000, BANDS, 48000, seed=3)
    stream = HarmonicStream(f, 48000, BANDS, seed=3)
    pieces = np.concatenate([stream.render(n) for n in (7, 1000, 2048, 48000 - 3055)])
    assert np.max(np.abs(pieces - whole)) < 1e-6
    late = HarmonicStream(f, 48000, BANDS, start=20000, seed=3).render(5000)
    assert np.max(np.abs(late - whole[20000:25000])) < 1e-4


def test_a_bend_is_an_f0_step_the_phase_runs_through():
    """A bend curve stepping f0 by a whole tone at sample 30000: up to there the note is the
    unbent one sample for sample, after it the partials sit at k·f0·2^(2/12), the waveform steps
    no further across the step than the bent note does, spans join, and a stream started past the step
    agrees with one that ran through it (its phase integrated along the curve)."""
    rate, step, factor = 48000, 30000, 2 ** (2 / 12)
    f = frames(220.0, noise=0.01)
    bend = UNBENT.then(step, factor)
    plain = synthesize(f, rate, BANDS, rate, seed=2)
    bent = HarmonicStream(f, rate, BANDS, seed=2, bend=bend)
    audio = np.concatenate([bent.render(n) for n in (12345, 20000, rate - 32345)])
    assert np.max(np.abs(audio[:step] - plain[:step])) < 1e-6
    found = partial_cents(audio[step + 2000 :], rate, 220.0 * factor)
    assert np.nanmax(np.abs(found)) < 1.0
    steps = np.abs(np.diff(HarmonicStream(frames(220.0), rate, BANDS, bend=bend).render(rate)))
    assert steps[step - 500 : step + 500].max() <= steps[step + 500 :].max()
    late = HarmonicStream(f, rate, BANDS, start=40000, seed=2, bend=bend).render(5000)
    assert np.max(np.abs(late - audio[40000:45000])) < 1e-4
    again = bend.then(36000, 1.0).then(step, 0.5)  # a later bend forgets the steps after it
    assert again.starts == (0, step) and again.factor == 0.5 and again.integral(step + 10) == step + 5


def test_a_vibrato_is_a_phase_swing_any_span_agrees_on_and_a_change_glides():
    """A 30-cent vibrato at 5.5 Hz swelling in over 0.2 s: past that each 20 ms window's f0 is
    30·cos(2π·5.5·t) cents off (within 3; the phase swings as the sine), whole or in spans, and
    a stream started anywhere is the same sample for sample (its phase has a closed form);
    taken away at 1 s it is gone by 1.1 s, a bend a tone up at 1.5 s lands on a steady f0, and
    no step in the waveform is larger than the steady note's."""
    rate, hz = 48000, 5.5
    f = frames(440.0, n_frames=150, noise=0.01)
    curve = BendCurve.throughout(0.0, SampleVibrato.of(30.0, hz, rate), onset=int(0.2 * rate))
    curve = curve.then(rate, 1.0, NO_VIBRATO, glide=int(0.1 * rate)).then(int(1.5 * rate), 2 ** (2 / 12))
    whole = HarmonicStream(f, rate, BANDS, seed=3, bend=curve).render(2 * rate)
    stream = HarmonicStream(f, rate, BANDS, seed=3, bend=curve)
    spans = np.concatenate([stream.render(n) for n in (777, 30000, 50000, 2 * rate - 80777)])
    assert np.max(np.abs(spans - whole)) < 1e-5
    for start in (1234, 47000, 50000, 75000):
        late = HarmonicStream(f, rate, BANDS, start=start, seed=3, bend=curve).render(5000)
        assert np.max(np.abs(late - whole[start : start + 5000])) < 1e-5, start
    for t in np.arange(0.25, 0.95, 0.02):
        at = fundamental_cents(whole[int(t * rate) - 480 : int(t * rate) + 480], rate, 440.0)
        assert at == pytest.approx(30 * np.cos(2 * np.pi * hz * t), abs=3), t
    for t, want in ((1.15, 0.0), (1.4, 0.0), (1.6, 200.0), (1.9, 200.0)):
        assert fundamental_cents(whole[int(t * rate) - 480 : int(t * rate) + 480], rate, 440.0) == pytest.approx(
            want, abs=1
        )
    steady = np.abs(np.diff(synthesize(frames(440.0 * 2 ** (2 / 12), n_frames=150), rate, BANDS, rate)))
    assert np.abs(
        np.diff(HarmonicStream(frames(440.0, n_frames=150), rate, BANDS, bend=curve).render(2 * rate))
    ).max() <= (1.05 * steady.max())


def test_vibrato_is_an_f0_change():
    t = np.arange(100) * 0.02
    f = frames(440 * 2 ** (50 * np.sin(2 * np.pi * 5 * t) / 1200), n_frames=100)
    audio = synthesize(f, 48000, BANDS, 96000)
    a, b = (fundamental_cents(audio[i : i + 1200], 48000, 440) for i in (int(0.05 * 48000), int(0.15 * 48000)))
    assert a == pytest.approx(50, abs=15) and b == pytest.approx(-50, abs=15)  # the crest and trough of 5 Hz


@pytest.mark.parametrize("rate", [48000, 44100])
def test_noise_density_is_the_same_at_either_rate(rate):
    audio = synthesize(frames(440.0, partials=1, noise=0.1), rate, BANDS, rate)
    audio -= synthesize(frames(440.0, partials=1, noise=0.0), rate, BANDS, rate)
    assert np.std(audio) == pytest.approx(0.1 * np.sqrt(rate / 48000), rel=0.05)


@pytest.mark.parametrize("f0", [np.linspace(180, 200, 40), np.full(40, 1500.0)], ids=["glide", "steady"])
def test_torch_twin_matches_sample_for_sample(f0):
    torch = pytest.importorskip("torch")
    from rtsynth.train.synthesis import HarmonicNoiseSynth

    rng = np.random.default_rng(0)
    f = SynthFrames(f0, rng.uniform(0, 0.1, (40, 16)), rng.uniform(0, 0.05, (40, len(BANDS))), 0.0232)
    rate, n = 48000, 40000
    expected = synthesize(f, rate, BANDS, n, seed=5)
    twin = HarmonicNoiseSynth(rate, f.frame_seconds, BANDS)
    got = twin(
        torch.tensor(f.f0_hz)[None],
        torch.tensor(f.amplitudes)[None],
        torch.tensor(f.noise)[None],
        n,
        torch.tensor([noise_offset(5)]),
    )[0].numpy()
    assert np.max(np.abs(got - expected)) < 1e-5


def test_the_twins_steady_path_gives_the_gliding_paths_samples_and_gradients():
    """A steady f0 takes the table path; the same note with f0 a nanohertz off on one frame
    takes the sine per sample and partial: the samples and the gradients agree."""
    torch = pytest.importorskip("torch")
    from rtsynth.train.synthesis import HarmonicNoiseSynth

    torch.manual_seed(0)
    twin = HarmonicNoiseSynth(48000, 0.0232, BANDS)
    steady = torch.tensor([[110.0], [2500.0], [7000.0]]).expand(3, 30)  # the last two reach Nyquist
    gliding = steady.clone()
    gliding[:, -1] += 1e-9
    probe = torch.randn(3, 30000, dtype=torch.float64)
    levels, gains = torch.rand(3, 30, 24, dtype=torch.float64), torch.rand(3, 30, len(BANDS))
    results = []
    for f0 in (steady, gliding):
        amplitudes, noise = levels.clone().requires_grad_(True), gains.clone().requires_grad_(True)
        audio = twin(f0, amplitudes, noise, 30000, torch.tensor([0, 5, 70000]))
        results.append((audio, *torch.autograd.grad((audio * probe).sum(), [amplitudes, noise])))
    for a, b in zip(*results):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-5)


def test_multi_resolution_stft_loss_trains_amplitudes_towards_a_target():
    """The loss on a tiny case: the partial amplitudes of a tone, fitted from zero by gradient
    descent through the twin, approach the target's (and the loss falls)."""
    torch = pytest.importorskip("torch")
    from rtsynth.train.synthesis import HarmonicNoiseSynth, multi_resolution_stft_loss

    torch.manual_seed(0)
    rate, n, frames_n, k = 16000, 8000, 10, 6
    twin = HarmonicNoiseSynth(rate, 0.05, (500.0, 4000.0))
    f0 = torch.full((1, frames_n), 220.0)
    target_amps = torch.tensor([0.5, 0.01, 0.25, 0.1, 0.01, 0.05]).expand(1, frames_n, k)
    noise = torch.zeros(1, frames_n, 2)
    target = twin(f0, target_amps, noise, n)
    logits = torch.full((1, 1, k), -3.0, requires_grad=True)  # one level per partial
    optimiser = torch.optim.Adam([logits], lr=0.1)
    losses = []
    for _ in range(80):
        optimiser.zero_grad()
        loss = multi_resolution_stft_loss(
            twin(f0, torch.exp(logits).expand(1, frames_n, k), noise, n), target, ffts=(1024, 256, 64)
        )
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    learned = torch.exp(logits)[0, 0].detach().numpy()
    assert losses[-1] < 0.2 * losses[0]
    assert np.allclose(learned, target_amps[0, 0].numpy(), rtol=0.15, atol=0.005), learned


@pytest.mark.parametrize(("f0", "rate"), [(261.6, 48000), (3000.0, 44100)])
def test_a_steady_note_matches_the_sine_per_sample_and_partial(f0, rate):
    """The steady path (rotation tables, block by block) is the plain sum of sines, to rounding,
    including the fade of partials near Nyquist and a span that starts mid-frame."""
    from rtsynth.dsp.harmonic import frame_position, harmonic_span

    rng = np.random.default_rng(1)
    f = SynthFrames(np.full(30, f0), rng.uniform(0, 0.1, (30, 16)), np.zeros((30, len(BANDS))), 0.0232)
    n0, n1, phase0 = 777, 777 + 3001, 0.4
    got, end_phase = harmonic_span(f, n0, n1, rate, phase0)
    left, right, t = frame_position(n0, n1, rate, f.frame_seconds, f.n_frames)
    k = np.arange(1, 17)
    amp = f.amplitudes[left] * (1 - t[:, None]) + f.amplitudes[right] * t[:, None]
    amp *= np.clip((0.5 - k * f0 / rate) / 0.02, 0.0, 1.0) * (k * f0 < rate / 2)
    phase = phase0 + np.arange(n1 - n0) * 2 * np.pi * f0 / rate
    assert np.max(np.abs(got - (amp * np.sin(phase[:, None] * k)).sum(axis=1))) < 1e-5  # float32 tables
    assert end_phase == pytest.approx((phase0 + (n1 - n0) * 2 * np.pi * f0 / rate) % (2 * np.pi))


def _mel():
    from rtsynth.settings import MelSettings

    return MelSettings(sample_rate=22050, n_fft=2048, hop_length=512, n_mels=256)


@pytest.mark.parametrize("f0", [65.4, 220.0, 1000.0, 3100.0])
def test_partial_bins_match_the_harmonic_decoders_response(f0):
    """The runtime reads the decoder's mel as the decoder wrote it: the same sinusoid response."""
    import torch

    from rtsynth.synthesis import PartialBins
    from rtsynth.train.models.harmonic import PartialRenderer

    expected = PartialRenderer(_mel(), 32)(torch.tensor([f0]))[0].double().numpy().T  # [K, n_mels]
    got = PartialBins(_mel(), 32).response(12 * np.log2(f0 / 440.0) + 69)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6 * expected.max())


@pytest.mark.parametrize("pitch", [45.0, 81.0])
def test_noise_the_partials_reach_goes_to_them_and_the_mel_power_is_kept(pitch):
    from rtsynth.synthesis import FrameReader, HarmonicNoiseSpec

    reader = FrameReader(HarmonicNoiseSpec(16, 1e-4, (200.0, 1000.0, 4000.0)), _mel())
    partials, noise = np.full((16, 3), 1e-3), np.full((256, 3), 1e-2)
    tonal, rest = reader.tonal(pitch, partials, noise)
    shares = reader.bins.shares(pitch)
    share, total = shares.share.toarray(), shares.total
    before = noise.sum(axis=0) + total @ partials
    np.testing.assert_allclose(rest.sum(axis=0) + total @ tonal, before, rtol=1e-5)
    peaks = share.argmax(axis=1)[total > 0]  # partials past the mel's top reach no bin
    assert (rest[peaks] < 1e-12).all()  # a partial's own bin is all partial
    unreached = share.sum(axis=0) == 0
    assert unreached.any() and (rest[unreached] == 1e-2).all()  # bins no partial reaches: noise
    quiet = reader.tonal(pitch, partials, np.full((256, 3), reader.floor / 2))
    np.testing.assert_array_equal(quiet[0], partials)  # noise under the silence floor is silence, not a partial
    breath = reader.tonal(pitch, partials, np.full((256, 3), 10 ** (-72 / 10)))[1]  # 72 dB under the peak
    assert (breath[unreached] > 0).all()  # an instrument's faint breath between its partials plays


@pytest.mark.parametrize("top", [11025.0, None])
def test_the_torch_frame_reader_reads_decoder_outputs_as_the_engine_does(top):
    """What tune-audio trains through is what the engine plays: amplitudes and noise gains of
    random decoder outputs (some under the silence floor) agree with rtsynth.synthesis."""
    import torch

    from rtsynth.synthesis import FrameReader, HarmonicNoiseSpec
    from rtsynth.train.models.harmonic import PartialRenderer
    from rtsynth.train.synthesis import DecodedFrames

    rng = np.random.default_rng(3)
    reader = FrameReader(HarmonicNoiseSpec(48, 2e-4, (150.0, 900.0, 3000.0, 9000.0), top), _mel())
    twin = DecodedFrames(reader, PartialRenderer(_mel(), 48), 48000)
    pitch = np.array([40.0, 69.3, 96.0])
    partials = np.exp(rng.uniform(-30, 0, (3, 48, 6)))
    noise = np.exp(rng.uniform(-25, -2, (3, 256, 6)))
    f0, amps, gains = twin(*(torch.from_numpy(a) for a in (pitch, partials, noise)))
    for i, p in enumerate(pitch):
        tonal, rest = reader.tonal(p, partials[i], noise[i])
        expected_amps = reader.amplitudes(tonal)
        expected_gains = reader.noise_gains(rest, len(reader.band_centres(48000)))
        np.testing.assert_allclose(
            amps[i].detach().numpy().T, expected_amps, rtol=1e-4, atol=1e-6 * expected_amps.max()
        )
        np.testing.assert_allclose(
            gains[i].detach().numpy(), expected_gains, rtol=1e-4, atol=1e-6 * expected_gains.max()
        )
        assert torch.allclose(f0[i], torch.tensor(440.0 * 2 ** ((p - 69) / 12), dtype=torch.float64))


def test_log_mel_loss_is_the_distance_it_names():
    """A note against itself scores 0; against a 6 dB brighter copy, about the dB it differs by / 10."""
    import torch

    from rtsynth.train.synthesis import log_mel_loss

    rate = 48000
    t = np.arange(rate // 2) / rate
    dull = sum(np.sin(2 * np.pi * 220 * k * t) / k**2 for k in range(1, 30))
    bright = sum(np.sin(2 * np.pi * 220 * k * t) / k**2 * (2.0 if k > 10 else 1.0) for k in range(1, 30))
    a, b = (torch.from_numpy(np.stack([x]).astype(np.float32)) for x in (dull, bright))
    assert float(log_mel_loss(a, a, rate)) == 0.0
    assert 0.05 < float(log_mel_loss(b, a, rate)) < 0.6


def test_the_fine_spectrum_hears_noise_between_a_low_notes_partials():
    """Noise 19 dB under a 55 Hz note, all below 400 Hz (between its partials): the mel's bands
    there are wider than the gaps and barely move; the fine spectrum's 6 Hz bins see it."""
    import torch

    from rtsynth.train.synthesis import fine_spectrum_loss, log_mel_loss

    rate, n = 48000, 24000
    t = np.arange(n) / rate
    note = 0.1 * sum(np.sin(2 * np.pi * 55 * k * t) / k for k in range(1, 8))
    spectrum = np.fft.rfft(np.random.default_rng(0).standard_normal(n))
    spectrum[np.fft.rfftfreq(n, 1 / rate) > 400] = 0
    noise = np.fft.irfft(spectrum, n)
    noise *= 0.01 / np.sqrt(np.mean(noise**2))
    clean, noisy = (torch.from_numpy(np.stack([x]).astype(np.float32)) for x in (note, note + noise))
    assert float(fine_spectrum_loss(clean, clean, rate)) == 0.0
    assert float(fine_spectrum_loss(noisy, clean, rate)) > 3 * float(log_mel_loss(noisy, clean, rate))
