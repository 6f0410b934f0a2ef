"""Streaming vocoders (mel -> audio), loudness restore, resampling and the quality metrics.

Signals are synthetic harmonic tones whose pitch and level are known exactly, turned into
mels by the same numpy mel code the corpus uses.
"""

import itertools

import numpy as np
import pytest

from rtsynth.dsp.mel import mel_filterbank, mel_power, power_to_unit
from rtsynth.settings import PAPER_MEL
from rtsynth.vocoder import CANDIDATES, DEFAULT_VOCODER, StreamingResampler, create_vocoder, vocode
from rtsynth.vocoder.loudness import SILENCE_FLOOR, relative_power
from rtsynth.vocoder.magnitude import MelInverter
from rtsynth.vocoder.quality import mel_db_distance, multi_resolution_stft_distance

SR = PAPER_MEL.sample_rate
HOP = PAPER_MEL.hop_length
PHASE_RETRIEVING = [name for name in CANDIDATES if name != "zero-phase"]


def harmonic_tone(f0: float, seconds: float, amplitude: float = 0.3, vibrato_cents: float = 0.0) -> np.ndarray:
    """Ten harmonics falling 1/k, a 30 ms attack and a 150 ms release, optional 5 Hz vibrato."""
    t = np.arange(int(seconds * SR)) / SR
    cents = vibrato_cents * np.sin(2 * np.pi * 5.0 * t)
    phase = 2 * np.pi * np.cumsum(f0 * 2 ** (cents / 1200)) / SR
    wave = sum(np.sin(k * phase) / k for k in range(1, 11) if k * f0 < SR / 2)
    envelope = np.minimum(1.0, np.minimum(t / 0.03, (seconds - t) / 0.15))
    return (amplitude * wave * np.clip(envelope, 0, 1) / 1.5).astype(np.float32)


def unit_mel(audio: np.ndarray) -> tuple[np.ndarray, float]:
    return power_to_unit(mel_power(audio, PAPER_MEL), PAPER_MEL.db_range)


def median_f0(audio: np.ndarray) -> float:
    import librosa

    steady = audio[int(0.2 * SR) : len(audio) - int(0.3 * SR)]
    return float(np.median(librosa.yin(steady, fmin=50, fmax=2000, sr=SR, frame_length=2048)))


def cents(a: float, b: float) -> float:
    return 1200 * abs(np.log2(a / b))


@pytest.fixture(scope="module")
def tone_note():
    audio = harmonic_tone(220.0, 1.5, vibrato_cents=20)
    unit, peak_db = unit_mel(audio)
    return audio, unit, peak_db


@pytest.mark.parametrize("name", list(CANDIDATES))
def test_streaming_in_any_chunks_equals_whole_note(name, tone_note):
    _, unit, peak_db = tone_note
    whole = vocode(unit, peak_db, name)
    vocoder = create_vocoder(name)
    rng = np.random.default_rng(7)
    vocoder.reset(peak_db)
    chunks, start = [], 0
    while start < unit.shape[1]:
        size = int(rng.choice([0, 1, 2, 3, 5, 8, 13]))
        chunks.append(vocoder.push(unit[:, start : start + size]))
        start += size
    chunks.append(vocoder.flush())
    streamed = np.concatenate(chunks)
    assert len(whole) == len(streamed) == unit.shape[1] * HOP
    np.testing.assert_allclose(streamed, whole, rtol=0, atol=1e-6 * np.abs(whole).max())


def test_a_reused_voice_forgets_its_last_note(tone_note):
    """Voices are pooled: a note after another (or after a steal mid-note) sounds as if fresh."""
    _, unit, peak_db = tone_note
    other, other_peak = unit_mel(harmonic_tone(440.0, 1.0))
    fresh = create_vocoder().vocode(unit, peak_db)
    reused = create_vocoder()
    reused.vocode(other, other_peak)
    assert np.array_equal(reused.vocode(unit, peak_db), fresh)
    reused.reset(other_peak)
    reused.push(other[:, :30])  # stolen mid-note: no flush
    assert np.array_equal(reused.vocode(unit, peak_db), fresh)


@pytest.mark.parametrize("name", list(CANDIDATES))
def test_first_audio_leaves_after_the_announced_few_frames(name, tone_note):
    _, unit, peak_db = tone_note
    vocoder = create_vocoder(name)
    vocoder.reset(peak_db)
    sizes = [len(vocoder.push(unit[:, i : i + 1])) for i in range(unit.shape[1])]
    first = next(i for i, n in enumerate(sizes) if n) + 1
    assert first == vocoder.latency_frames <= 12
    assert sum(sizes) + len(vocoder.flush()) == unit.shape[1] * HOP


@pytest.mark.parametrize("name", PHASE_RETRIEVING)
def test_no_discontinuity_at_chunk_borders(name):
    """A steady tone pushed 3 frames at a time: no click where one chunk meets the next.

    Chunks come out a refinement block at a time, so their borders are also where frames
    are committed: where a block-wise algorithm would leave its seams."""
    audio = harmonic_tone(196.0, 3.0)
    unit, peak_db = unit_mel(audio)
    vocoder = create_vocoder(name)
    vocoder.reset(peak_db)
    chunks = [vocoder.push(unit[:, i : i + 3]) for i in range(0, unit.shape[1], 3)] + [vocoder.flush()]
    out = np.concatenate(chunks)
    borders = np.cumsum([len(c) for c in chunks if len(c)])[:-1]  # all multiples of the hop
    steady = (borders > 0.3 * SR) & (borders < 2.6 * SR)
    assert steady.sum() >= 10  # the comparison covers many borders
    jump = np.abs(np.diff(out))
    near = np.zeros(len(jump), bool)
    for b in borders[steady]:
        near[b - 32 : b + 32] = True
    elsewhere = np.zeros(len(jump), bool)
    elsewhere[borders[steady].min() : borders[steady].max()] = True
    elsewhere &= ~near
    assert jump[near].max() <= 1.05 * jump[elsewhere].max()

    # and no dip or bump where blocks overlap: frames of two blocks that do not agree in phase
    # partly cancel in the hops after a border; hop by hop, the level follows the original
    def hop_db(x):
        x = np.pad(x, (0, max(0, len(out) - len(x))))[: len(out)]
        return 20 * np.log10(np.sqrt(np.mean(x.reshape(-1, HOP) ** 2, axis=1)) + 1e-12)

    hops = slice(borders[steady].min() // HOP, borders[steady].max() // HOP + 4)
    assert np.abs(hop_db(out) - hop_db(audio))[hops].max() < 2.0


@pytest.mark.parametrize("name", PHASE_RETRIEVING)
@pytest.mark.parametrize("f0", [98.0, 261.63, 587.33])
def test_pitch_of_a_harmonic_tone_survives(name, f0):
    audio = harmonic_tone(f0, 1.2)
    unit, peak_db = unit_mel(audio)
    out = create_vocoder(name).vocode(unit, peak_db)
    assert cents(median_f0(out), f0) < 50
    assert cents(median_f0(audio), f0) < 5  # the estimator itself is right


def test_loudness_follows_peak_db_exactly(tone_note):
    _, unit, _ = tone_note
    vocoder = create_vocoder()
    rms = [np.sqrt(np.mean(vocoder.vocode(unit, peak) ** 2)) for peak in (-30.0, -20.0, -10.0, 0.0)]
    assert all(a < b for a, b in itertools.pairwise(rms))
    np.testing.assert_allclose(np.diff(20 * np.log10(rms)), 10.0, atol=1e-3)


@pytest.mark.parametrize("amplitude", [0.02, 0.3])
def test_loudness_restore_reproduces_the_original_level(amplitude):
    audio = harmonic_tone(330.0, 1.5, amplitude=amplitude)
    unit, peak_db = unit_mel(audio)
    out = create_vocoder().vocode(unit, peak_db)[: len(audio)]
    level_db = 20 * np.log10(np.sqrt(np.mean(out**2)) / np.sqrt(np.mean(audio**2)))
    assert abs(level_db) < 1.0


@pytest.mark.parametrize("name", PHASE_RETRIEVING)
def test_quality_beats_the_zero_phase_floor(name, tone_note):
    audio, unit, peak_db = tone_note
    floor = create_vocoder("zero-phase").vocode(unit, peak_db)
    out = create_vocoder(name).vocode(unit, peak_db)
    ours, base = (multi_resolution_stft_distance(audio, x, PAPER_MEL) for x in (out, floor))
    assert ours["spectral_convergence"] < 0.5 * base["spectral_convergence"]
    assert ours["log_stft_l1"] < base["log_stft_l1"]
    assert mel_db_distance(audio, out, PAPER_MEL) < 0.5 * mel_db_distance(audio, floor, PAPER_MEL)


def test_magnitude_fit_gives_back_the_mel(tone_note):
    _, unit, _ = tone_note
    power = relative_power(unit, PAPER_MEL.db_range)
    heard = power > 1e-6  # within 60 dB of the peak

    def refit_error_db(iterations: int) -> float:
        mags = MelInverter(PAPER_MEL, iterations)(power)
        assert mags.shape == (unit.shape[1], PAPER_MEL.n_fft // 2 + 1) and (mags >= 0).all()
        refit = mel_filterbank(PAPER_MEL) @ (mags.T.astype(np.float64) ** 2)
        return float(np.abs(10 * np.log10(refit[heard] / power[heard])).mean())

    assert refit_error_db(10) < 0.5
    assert refit_error_db(10) < 0.5 * refit_error_db(0)  # the fit is what gets it there


def test_metrics_are_zero_for_identity_and_grow_with_damage(tone_note):
    audio = tone_note[0]
    same = multi_resolution_stft_distance(audio, audio, PAPER_MEL)
    assert same["spectral_convergence"] == 0 and same["log_stft_l1"] == 0
    assert mel_db_distance(audio, audio, PAPER_MEL) == 0
    noisy = audio + 0.01 * np.random.default_rng(0).standard_normal(len(audio)).astype(np.float32)
    noisier = audio + 0.05 * np.random.default_rng(0).standard_normal(len(audio)).astype(np.float32)
    assert 0 < mel_db_distance(audio, noisy, PAPER_MEL) < mel_db_distance(audio, noisier, PAPER_MEL)


def test_silence_stays_silent():
    vocoder = create_vocoder()
    out = vocoder.vocode(np.zeros((PAPER_MEL.n_mels, 40), np.float32), peak_db=10.0)
    assert len(out) == 40 * HOP and np.all(out == 0)


def test_bad_input_gets_a_clear_error(tone_note):
    _, unit, peak_db = tone_note
    vocoder = create_vocoder()
    with pytest.raises(RuntimeError, match="reset"):
        vocoder.push(unit[:, :4])
    vocoder.reset(peak_db)
    with pytest.raises(ValueError, match="n_mels=256"):
        vocoder.push(unit[:128, :4])
    bad = unit[:, :4].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        vocoder.push(bad)
    vocoder.flush()
    with pytest.raises(RuntimeError, match="reset"):
        vocoder.push(unit[:, :4])
    with pytest.raises(ValueError, match="peak_db"):
        vocoder.reset(float("inf"))
    with pytest.raises(ValueError, match="unknown vocoder"):
        create_vocoder("wavenet")
    assert DEFAULT_VOCODER in CANDIDATES


def spectral_peak_hz(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio)), n=8 * len(audio)))
    k = int(np.argmax(spectrum))
    a, b, c = np.log(spectrum[k - 1 : k + 2])
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * rate / (8 * len(audio))


@pytest.mark.parametrize("out_rate", [44100, 48000, 16000])
def test_resampler_keeps_pitch_and_level_in_any_chunks(out_rate):
    t = np.arange(SR) / SR
    tone = (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    resampler = StreamingResampler(SR, out_rate)
    whole = resampler.process(tone)
    resampler.reset()
    cuts = np.cumsum(np.random.default_rng(3).integers(0, 700, 80))
    pieces = [resampler.process(part) for part in np.split(tone, cuts[cuts < len(tone)])]
    np.testing.assert_allclose(np.concatenate(pieces), whole, atol=1e-6)
    assert abs(len(whole) - out_rate) <= 1
    steady = whole[out_rate // 10 : -out_rate // 10]
    assert cents(spectral_peak_hz(steady, out_rate), 440.0) < 1
    assert abs(20 * np.log10(np.sqrt(2 * np.mean(steady**2)) / 0.5)) < 0.05
    assert 0 < resampler.delay_seconds < 0.002


def test_resampler_removes_what_the_device_rate_cannot_hold():
    t = np.arange(SR) / SR
    high = np.sin(2 * np.pi * 10000.0 * t).astype(np.float32)  # above 16 kHz's Nyquist
    out = StreamingResampler(SR, 16000).process(high)
    assert np.sqrt(np.mean(out[1600:-1600] ** 2)) < 1e-3  # more than 57 dB down
    with pytest.raises(ValueError, match="positive"):
        StreamingResampler(0, 48000)


@pytest.mark.parametrize("name", ["pghi", "pghi-gla"])
def test_a_decoders_faint_floor_is_silence_and_quiet_content_is_not(tone_note, name):
    _, unit, peak_db = tone_note
    cut = unit.shape[1] // 2
    after_cut = slice((cut + 8) * PAPER_MEL.hop_length, (cut + 40) * PAPER_MEL.hop_length)
    floor = np.maximum(unit, SILENCE_FLOOR)  # a decoder's output never quite reaches 0
    floor[:, cut:] = SILENCE_FLOOR
    assert np.abs(create_vocoder(name).vocode(floor, peak_db)[after_cut]).max() == 0.0
    quiet = floor.copy()
    quiet[:, cut:] = SILENCE_FLOOR + 0.1  # 60 dB down: quiet, but sound
    assert np.abs(create_vocoder(name).vocode(quiet, peak_db)[after_cut]).max() > 0
