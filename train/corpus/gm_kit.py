"""`rtsynth data gm-kit`: the General MIDI percussion kit of a SoundFont as a folder of WAV files.

Unpitched sounds for an unlabelled corpus (paper 001's setting): each key of the GM
percussion map on channel 10 (bank 128), struck once and rendered until it falls silent,
one file per key, named by its GM name. No labels.csv: `rtsynth data prep` reads the folder as
an unlabelled corpus, alone or mixed with pitched notes.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

DRUM_CHANNEL = 9  # MIDI channel 10
DRUM_BANK = 128
GM_DRUMS = {
    35: "acoustic-bass-drum", 36: "bass-drum-1", 37: "side-stick", 38: "acoustic-snare", 39: "hand-clap",
    40: "electric-snare", 41: "low-floor-tom", 42: "closed-hi-hat", 43: "high-floor-tom", 44: "pedal-hi-hat",
    45: "low-tom", 46: "open-hi-hat", 47: "low-mid-tom", 48: "hi-mid-tom", 49: "crash-cymbal-1",
    50: "high-tom", 51: "ride-cymbal-1", 52: "chinese-cymbal", 53: "ride-bell", 54: "tambourine",
    55: "splash-cymbal", 56: "cowbell", 57: "crash-cymbal-2", 58: "vibraslap", 59: "ride-cymbal-2",
    60: "hi-bongo", 61: "low-bongo", 62: "mute-hi-conga", 63: "open-hi-conga", 64: "low-conga",
    65: "high-timbale", 66: "low-timbale", 67: "high-agogo", 68: "low-agogo", 69: "cabasa", 70: "maracas",
    71: "short-whistle", 72: "long-whistle", 73: "short-guiro", 74: "long-guiro", 75: "claves",
    76: "hi-wood-block", 77: "low-wood-block", 78: "mute-cuica", 79: "open-cuica", 80: "mute-triangle",
    81: "open-triangle",
}  # fmt: skip
SAMPLE_RATE = 44100
MAX_SECONDS = 4.0
CHUNK = 4410


def render_kit(
    out: str | Path, soundfont: str | Path, keys: tuple[int, int] = (35, 81), velocity: int = 100
) -> list[Path]:
    """One WAV per GM percussion key in `keys` (inclusive) that sounds; returns the files written."""
    import soundfile

    from rtsynth.train.corpus.gm import check_soundfont
    from rtsynth.train.corpus.renderers import GmRenderError, import_fluidsynth, uses_timidity

    if uses_timidity(soundfont):
        raise GmRenderError(f"{soundfont}: the percussion kit is rendered with FluidSynth, from an SF2 SoundFont")
    fluidsynth = import_fluidsynth()
    soundfont = check_soundfont(soundfont)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for key in range(keys[0], keys[1] + 1):
        if key not in GM_DRUMS:
            continue
        audio = _strike(fluidsynth, soundfont, key, velocity)
        if audio is None:
            log.warning("the SoundFont has no drum sound on key %d (%s); left out", key, GM_DRUMS[key])
            continue
        path = out / f"{key}-{GM_DRUMS[key]}.wav"
        soundfile.write(path, audio, SAMPLE_RATE, subtype="PCM_16")
        written.append(path)
    log.info("wrote %d percussion sounds to %s", len(written), out)
    return written


def _strike(fluidsynth, soundfont: Path, key: int, velocity: int) -> np.ndarray | None:
    """A fresh synth per key (no state carried between sounds): note on, then until silent."""
    synth = fluidsynth.Synth(samplerate=float(SAMPLE_RATE), **{"synth.reverb.active": 0, "synth.chorus.active": 0})
    try:
        sfid = synth.sfload(str(soundfont))
        synth.program_select(DRUM_CHANNEL, sfid, DRUM_BANK, 0)
        synth.noteon(DRUM_CHANNEL, key, velocity)
        if synth.get_active_voice_count() == 0:
            return None
        chunks, total = [], 0
        while synth.get_active_voice_count() > 0 and total < MAX_SECONDS * SAMPLE_RATE:
            stereo = np.asarray(synth.get_samples(CHUNK), dtype=np.float32).reshape(-1, 2) / 32768.0
            chunks.append(stereo)
            total += len(stereo)
            if total > 0.5 * SAMPLE_RATE:
                synth.noteoff(DRUM_CHANNEL, key)
        return np.concatenate(chunks)
    finally:
        synth.delete()
