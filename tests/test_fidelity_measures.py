"""The fidelity bench's measures on signals whose answers are known, so a wrong measure fails here."""

from __future__ import annotations

import numpy as np
import pytest

from rtsynth.dsp.fidelity import (
    blend_excursion,
    high_band_db,
    level_excursion,
    log_mel_distance,
    measure_note,
    neighbour_deviation,
    partial_cents,
    sounding_length_s,
)
from rtsynth.dsp.pitch import midi_hz
from rtsynth.settings import PAPER_TRIM

SR = 48000


def tone(note: float, seconds: float = 1.0, partials: int = 8, stretch_cents: float = 0.0, level: float = 0.3):
    """A harmonic tone with 5 ms fades; partial k sits k * stretch_cents off k * f0 when stretched."""
    t = np.arange(int(seconds * SR)) / SR
    f0 = midi_hz(note)
    y = sum(np.sin(2 * np.pi * k * f0 * 2 ** (k * stretch_cents / 1200) * t) / k for k in range(1, partials + 1))
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.005)
    return (level * y * fade).astype(np.float32)


def test_a_tone_in_tune_measures_in_tune_and_a_detuned_one_by_its_detune():
    in_tune = measure_note(tone(60), tone(60), SR, 60, 1.0)
    assert abs(in_tune.f0_error_cents) < 1 and in_tune.pitched and not in_tune.octave_error
    assert abs(in_tune.rms_db - in_tune.reference_rms_db) < 0.01 and in_tune.log_mel_db < 0.01
    detuned = measure_note(tone(60.2), tone(60), SR, 60, 1.0)  # 20 cents sharp
    assert detuned.f0_error_cents == pytest.approx(20, abs=1.5)


@pytest.mark.parametrize("seconds", [0.3, 0.75, 2.0])
def test_sounding_length_is_the_tone_between_its_silences(seconds):
    gap = np.zeros(int(0.25 * SR), np.float32)
    length = sounding_length_s(np.concatenate([gap, tone(60, seconds), gap]), SR)
    # prep's rule: centred 2048-sample frames reach the tone about half a frame early and late
    assert length == pytest.approx(seconds + PAPER_TRIM.frame_length / SR, abs=0.015)
    assert sounding_length_s(np.zeros(SR, np.float32), SR) == 0.0


def test_content_above_11khz_is_the_share_of_the_partials_there():
    assert high_band_db(tone(60), SR) < -80  # 8 partials of 262 Hz end near 2 kHz
    # note 96 (2093 Hz): partials 6-8 lie above 11 kHz, with amplitudes 1/6-1/8 of the first's
    share = sum(1 / k**2 for k in (6, 7, 8)) / sum(1 / k**2 for k in range(1, 9))
    assert high_band_db(tone(96), SR) == pytest.approx(10 * np.log10(share), abs=0.3)


def test_inharmonic_partials_are_found_where_they_are():
    errors = partial_cents(tone(48, stretch_cents=3.0), SR, midi_hz(48))
    assert errors == pytest.approx([3.0 * k for k in range(1, 9)], abs=1.0)


def test_a_component_an_octave_below_is_an_octave_error():
    low = tone(48, partials=1, level=0.3) + tone(60)
    assert measure_note(low, tone(60), SR, 60, 1.0).octave_error


def test_a_quiet_key_among_its_neighbours_is_found():
    levels = np.array([-20.0, -20.5, -21.0, -35.0, -21.5, -22.0, -22.5])
    deviation = neighbour_deviation(levels)
    assert deviation[3] < -12 and np.all(np.abs(np.delete(deviation, 3)) < 2)


def test_the_log_mel_distance_grows_with_a_changed_colour():
    bright, dark = tone(60, partials=8), tone(60, partials=2)
    assert log_mel_distance(bright, bright) < 0.01 < log_mel_distance(bright, dark)


def test_a_level_dip_inside_a_morph_is_measured():
    y = tone(60, seconds=2.0)
    t = np.arange(len(y)) / SR
    y = y * np.where((t > 0.9) & (t < 1.0), 10 ** (-6 / 20), 1.0).astype(np.float32)
    dip, swell = level_excursion(y, SR, 0.5, 1.5)
    assert dip == pytest.approx(-6, abs=0.5) and abs(swell) < 0.5


def test_a_morph_is_measured_against_its_held_notes_blend_not_their_envelopes():
    """Two held notes that swell on their own; a morph that follows their blend adds nothing,
    one that dips 4 dB in the middle is found."""
    a, b = tone(60, seconds=2.0, level=0.1), tone(60, seconds=2.0, level=0.3)
    t = np.arange(len(a)) / SR
    bump = (1 + 0.5 * np.exp(-(((t - 1.0) / 0.1) ** 2))).astype(np.float32)  # +3.5 dB at 1 s in both
    a, b = a * bump, b * bump
    x = np.clip(t - 0.5, 0.0, 1.0)  # a ramp from a to b over 0.5-1.5 s
    follows = 10 ** ((1 - x) * np.log10(0.1) + x * np.log10(0.3)) / 0.3 * b
    position = lambda times: np.clip(times - 0.5, 0.0, 1.0)  # noqa: E731
    dip, swell = blend_excursion(follows.astype(np.float32), a, b, SR, 0.5, 1.5, position)
    assert abs(dip) < 0.3 and abs(swell) < 0.3
    assert level_excursion(follows.astype(np.float32), SR, 0.5, 1.5)[1] > 2.0  # a straight line sees the bump
    dipped = follows * np.where((t > 0.95) & (t < 1.05), 10 ** (-4 / 20), 1.0)
    dip, _ = blend_excursion(dipped.astype(np.float32), a, b, SR, 0.5, 1.5, position)
    assert dip == pytest.approx(-4, abs=0.5)


def test_a_missing_partial_is_not_read_off_the_slope_of_a_neighbouring_component():
    """No 6th partial, but a component 80 cents above where it would be: its skirt rises to the
    search band's edge, which is no peak, so the 6th is not found (and the rest still read)."""
    t = np.arange(SR) / SR
    f0 = midi_hz(45)
    stray = 0.02 * np.sin(2 * np.pi * 6 * f0 * 2 ** (80 / 1200) * t)
    errors = partial_cents(tone(45, partials=5) + stray.astype(np.float32), SR, f0)
    assert np.isnan(errors[5])
    assert errors[:5] == pytest.approx([0.0] * 5, abs=1.0)


def test_a_bump_of_noise_where_a_partial_is_missing_is_not_read_as_that_partial():
    """No 6th partial, only noise around it: the noise's highest bin near 6 f0 is a local
    maximum, but no partial; the others stand far over the noise and are read in tune."""
    f0 = midi_hz(36)
    noise = np.random.default_rng(1).standard_normal(SR).astype(np.float32) * 0.1  # 40 dB under the fundamental per bin
    t = np.arange(SR) / SR
    partials = [k for k in range(1, 9) if k != 6]
    y = sum(0.3 / k * np.sin(2 * np.pi * k * f0 * t) for k in partials).astype(np.float32)
    errors = partial_cents(y + noise, SR, f0)
    assert np.isnan(errors[5])
    assert errors[[k - 1 for k in partials]] == pytest.approx([0.0] * 7, abs=1.0)
