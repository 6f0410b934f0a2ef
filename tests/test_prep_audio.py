"""Prep's signal steps: reading, trimming/duration classes, resampling, pad/crop, mel features."""

import numpy as np
import pytest
import soundfile as sf

from rtsynth.dsp.audio import AudioProblem, read_mono, sounding_span
from rtsynth.dsp.mel import mel_power, unit_to_power
from rtsynth.dsp.note import cut_note, fit_length, note_features, resample
from rtsynth.labels import duration_class
from rtsynth.settings import PAPER_MEL, PAPER_TRIM

SR = 44100


def tone(seconds: float, amplitude: float = 0.3, freq: float = 261.6, sr: int = SR) -> np.ndarray:
    t = np.arange(round(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def silence(seconds: float, sr: int = SR) -> np.ndarray:
    return np.zeros(round(seconds * sr), dtype=np.float32)


@pytest.mark.parametrize("seconds", [0.3, 1.0, 2.5, 4.2, 5.75])
def test_trim_measures_a_tone_of_known_length(seconds):
    audio = np.concatenate([silence(0.4), tone(seconds), silence(0.7)])
    start, end = sounding_span(audio, PAPER_TRIM)
    measured = (end - start) / SR
    # centred frames see the tone up to half a frame early and late, rounded out to hops (as librosa)
    assert seconds <= measured <= seconds + (PAPER_TRIM.frame_length + PAPER_TRIM.hop_length) / SR
    assert abs(start / SR - 0.4) <= PAPER_TRIM.frame_length / SR
    assert duration_class(measured) == round(seconds / 0.25) - 1


def test_trim_follows_a_decay_to_minus_40_db():
    tau = 0.4  # amplitude exp(-t / tau) is 40 dB down at tau * ln(100) = 1.84 s
    t = np.arange(int(4 * SR)) / SR
    audio = np.concatenate([silence(0.2), (np.exp(-t / tau) * np.sin(2 * np.pi * 220 * t)).astype(np.float32)])
    start, end = sounding_span(audio, PAPER_TRIM)
    assert abs((end - start) / SR - tau * np.log(100)) < 0.08


def test_trim_keeps_inner_gaps_and_matches_librosa():
    librosa = pytest.importorskip("librosa")
    audio = np.concatenate([silence(0.3), tone(0.8), silence(0.6), tone(0.5, 0.1), silence(0.5)])
    start, end = sounding_span(audio, PAPER_TRIM)
    assert (end - start) / SR > 0.8 + 0.6 + 0.5  # the gap belongs to the note
    _, (ref_start, ref_end) = librosa.effects.trim(
        audio, top_db=PAPER_TRIM.top_db, frame_length=PAPER_TRIM.frame_length, hop_length=PAPER_TRIM.hop_length
    )
    assert (start, end) == (ref_start, ref_end)


def test_resample_keeps_duration_and_pitch():
    out = resample(tone(1.0, freq=1000.0, sr=48000), 48000, 22050)
    assert len(out) == 22050
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spectrum) * 22050 / len(out) - 1000.0) <= 1.0


def test_pad_fills_with_zeros_and_crop_fades_out_without_click():
    n, fade = PAPER_MEL.n_samples, 1102
    short = tone(2.0, sr=PAPER_MEL.sample_rate)
    padded = fit_length(short, n, fade)
    assert len(padded) == n and np.array_equal(padded[: len(short)], short) and not padded[len(short) :].any()

    long = tone(7.0, freq=300.0, sr=PAPER_MEL.sample_rate)
    cropped = fit_length(long, n, fade)
    assert len(cropped) == n
    assert abs(cropped[-1]) < 1e-6 and np.array_equal(cropped[: n - fade], long[: n - fade])
    assert np.abs(np.diff(cropped[-fade:])).max() <= np.abs(np.diff(long)).max() + 1e-6
    # a hard cut splashes energy across the upper bands of the last frame; the fade does not
    upper = slice(PAPER_MEL.n_mels // 2, None)
    faded_top = mel_power(cropped, PAPER_MEL)[upper, -1].sum()
    cut_top = mel_power(long[:n], PAPER_MEL)[upper, -1].sum()
    assert faded_top < cut_top / 100


def test_cut_after_the_trimmed_span_fades_out_without_click():
    """A decay is cut where it falls below -40 dB; the cut must not click."""
    sr, tau = PAPER_MEL.sample_rate, 0.3
    t = np.arange(3 * sr) / sr
    audio = (0.5 * np.exp(-t / tau) * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    start, end = sounding_span(audio, PAPER_TRIM)
    assert abs(end / sr - tau * np.log(100)) < 0.08
    fade = int(0.05 * sr)
    note = cut_note(audio, start, end, fade)
    assert len(note) == end - start + fade and abs(note[-1]) < 1e-7
    assert np.array_equal(note[: end - start], audio[start:end])  # the span itself is untouched
    # upper-band energy around the cut: a hard cut splashes there, the fade does not
    upper, around_cut = slice(PAPER_MEL.n_mels // 2, None), slice((end - start) // PAPER_MEL.hop_length - 1, None)
    faded = mel_power(fit_length(note, PAPER_MEL.n_samples, fade), PAPER_MEL)[upper, around_cut]
    hard = mel_power(fit_length(audio[start:end], PAPER_MEL.n_samples, fade), PAPER_MEL)[upper, around_cut]
    assert faded.sum() < hard.sum() / 100


def test_mel_is_256_by_256_in_unit_range_and_peak_restores_level():
    loud, loud_db = note_features(tone(1.5, 0.5), SR, PAPER_MEL, 0.05)
    quiet, quiet_db = note_features(tone(1.5, 0.05), SR, PAPER_MEL, 0.05)
    assert loud.shape == (256, 256) and loud.dtype == np.float32
    assert loud.min() >= 0 and loud.max() == 1
    assert np.abs(loud - quiet).max() < 1e-3  # the shape is level-free ...
    assert loud_db - quiet_db == pytest.approx(20.0, abs=0.01)  # ... the level lives in peak_db
    reference = mel_power(
        fit_length(resample(tone(1.5, 0.05), SR, PAPER_MEL.sample_rate), PAPER_MEL.n_samples, 1102), PAPER_MEL
    )
    restored = unit_to_power(quiet, quiet_db, PAPER_MEL.db_range)
    audible = reference > reference.max() * 10 ** (-PAPER_MEL.db_range / 10)
    assert np.allclose(restored[audible], reference[audible], rtol=1e-2)


@pytest.mark.parametrize("subtype,channels,rate", [("PCM_U8", 1, 44100), ("PCM_16", 2, 48000), ("FLOAT", 1, 8000)])
def test_read_mono_handles_formats(tmp_path, subtype, channels, rate):
    mono = tone(0.5, 0.5, sr=rate)
    path = tmp_path / "note.wav"
    sf.write(path, np.stack([mono] * channels, axis=1), rate, subtype=subtype)
    audio = read_mono(path, -90.0)
    assert (audio.sample_rate, audio.channels, audio.subtype) == (rate, channels, subtype)
    assert audio.samples.ndim == 1 and audio.samples.dtype == np.float32
    assert np.abs(audio.samples - mono).max() < 0.02  # 8-bit quantisation at most


def test_read_mono_names_each_problem(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")
    sf.write(tmp_path / "silent.wav", silence(1.0), SR)
    sf.write(tmp_path / "nan.wav", np.full(100, np.nan, dtype=np.float32), SR, subtype="FLOAT")
    sf.write(tmp_path / "noframes.wav", np.zeros(0, dtype=np.float32), SR)
    expected = {
        "empty.wav": "empty file",
        "corrupt.wav": "unreadable audio",
        "silent.wav": "silent",
        "nan.wav": "non-finite",
        "noframes.wav": "no audio samples",
        "missing.wav": "file not found",
    }
    for name, reason in expected.items():
        with pytest.raises(AudioProblem, match=reason):
            read_mono(tmp_path / name, -90.0)
