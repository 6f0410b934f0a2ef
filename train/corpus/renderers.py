"""The synthesizers that play GM-SOL's notes: FluidSynth for SoundFonts, TiMidity++ for its configs.

Why two: the SoundFonts Debian packages share most of their recordings (docs/results.md, *More
than one SoundFont*), and the patch sets TiMidity++ plays (freepats: GUS patches, `apt-get
install timidity freepats`) hold other recordings. Each player plays one note alone, held a
whole number of its own time steps, and returns it uncoloured; the held-time search, the
dynamics colour and the files are gm.py's, the same for both.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Protocol

import mido
import numpy as np
import soundfile as sf

from rtsynth.errors import RtsynthError

BLOCK = 64  # FluidSynth renders in 64-sample blocks; events land on block boundaries
FLUID_WARN = 2  # FluidSynth's log level for warnings
TAIL_CHUNK = 64 * BLOCK  # release tail rendered in chunks until no voice sounds
TICKS_PER_BEAT = 480  # TiMidity++ notes are MIDI files at the default 120 bpm: one tick is 1/960 s
TICKS_PER_S = 2 * TICKS_PER_BEAT
TIMIDITY_SUFFIX = ".cfg"
RENDERER_NAMES = {"fluidsynth": "FluidSynth", "timidity": "TiMidity++"}


class GmRenderError(RtsynthError, RuntimeError):
    """A setup problem the user can fix (missing FluidSynth or SoundFont, bad option)."""


class NotePlayer(Protocol):
    def steps_for(self, held_s: float) -> int:
        """The whole number of time steps (at least one) nearest a held time."""

    def held_seconds(self, steps: int) -> float: ...

    def play(self, program: int, key: int, velocity: int, steps: int) -> np.ndarray | None:
        """Mono float audio of one note alone: note-on, `steps` held, note-off, its release
        until silence (capped); None when the key does not sound."""

    def close(self) -> None: ...


def uses_timidity(soundfont: str | Path) -> bool:
    """A TiMidity++ config (patch sets such as freepats) rather than an SF2 SoundFont."""
    return Path(soundfont).suffix == TIMIDITY_SUFFIX


def open_player(soundfont: Path, sample_rate: int, gain: float, max_seconds: float) -> NotePlayer:
    if uses_timidity(soundfont):
        return TimidityPlayer(soundfont, sample_rate, gain, max_seconds)
    return FluidSynthPlayer(soundfont, sample_rate, gain, max_seconds)


def renderer_version(soundfont: Path) -> dict[str, str]:
    """What plays the notes, as each file's render key names it."""
    return {"timidity": timidity_version()} if uses_timidity(soundfont) else {"fluidsynth": fluidsynth_version()}


def renderer_name(render_info: dict) -> str:
    """'FluidSynth 2.3.4', from render settings that hold `renderer_version`'s answer."""
    return next(f"{name} {render_info[kind]}" for kind, name in RENDERER_NAMES.items() if kind in render_info)


# --- FluidSynth -------------------------------------------------------------------------


def import_fluidsynth():
    """pyfluidsynth, or GmRenderError naming the Debian package when libfluidsynth is missing."""
    try:
        import fluidsynth
    except ModuleNotFoundError:
        raise  # pyfluidsynth itself is missing: the CLI names the [train] extra
    except (ImportError, OSError) as err:
        raise GmRenderError(
            f"the FluidSynth library is missing ({err}): install the Debian package "
            "`libfluidsynth3` (sudo apt-get install fluidsynth)"
        ) from None
    return fluidsynth


def fluidsynth_version() -> str:
    lib = ctypes.CDLL(import_fluidsynth().lib)
    lib.fluid_version_str.restype = ctypes.c_char_p
    return lib.fluid_version_str().decode()


def _bind_c_api(fluidsynth) -> ctypes.CDLL:
    """The few libfluidsynth calls pyfluidsynth does not wrap."""
    lib = ctypes.CDLL(fluidsynth.lib)
    ptr, num = ctypes.c_void_p, ctypes.c_int
    lib.fluid_synth_write_float.argtypes = [ptr, num, ptr, num, num, ptr, num, num]
    lib.fluid_synth_get_sfont_by_id.argtypes, lib.fluid_synth_get_sfont_by_id.restype = [ptr, num], ptr
    lib.fluid_synth_add_sfont.argtypes = lib.fluid_synth_remove_sfont.argtypes = [ptr, ptr]
    lib.fluid_set_log_function.argtypes, lib.fluid_set_log_function.restype = [num, ptr, ptr], ptr
    return lib


class FluidSynthPlayer:
    """Loads the SoundFont once, then plays every note on a fresh synth that borrows it.

    Why a fresh synth per note: FluidSynth (2.3) keeps state in its voice slots across
    notes (a reused slot ramps its output gain from the previous voice's pan over the
    first block), so on a reused synth a note's samples would depend on the notes before
    it. A bare synth costs about a millisecond; sharing the loaded SoundFont
    (fluid_synth_add_sfont / remove_sfont) avoids re-reading it.
    """

    def __init__(self, soundfont: Path, sample_rate: int, gain: float, max_seconds: float):
        self.fluidsynth = import_fluidsynth()
        self.sample_rate, self.gain = sample_rate, gain
        self.max_samples = int(max_seconds * sample_rate)
        self.lib = _bind_c_api(self.fluidsynth)
        self.holder = self._new_synth()  # owns the loaded SoundFont
        sfid = self.holder.sfload(str(soundfont))
        if sfid < 0:
            raise GmRenderError(f"FluidSynth cannot load {soundfont} as a SoundFont")
        self.sfont = self.lib.fluid_synth_get_sfont_by_id(self.holder.synth, sfid)

    def steps_for(self, held_s: float) -> int:
        return max(1, round(held_s * self.sample_rate / BLOCK))

    def held_seconds(self, steps: int) -> float:
        return steps * BLOCK / self.sample_rate

    def _new_synth(self):
        return self.fluidsynth.Synth(
            gain=self.gain,
            samplerate=float(self.sample_rate),
            channels=16,
            **{"synth.reverb.active": 0, "synth.chorus.active": 0, "synth.cpu-cores": 1, "synth.polyphony": 16},
        )

    def _samples(self, synth, n: int) -> np.ndarray:
        left, right = np.zeros(n, np.float32), np.zeros(n, np.float32)
        self.lib.fluid_synth_write_float(synth.synth, n, left.ctypes.data, 0, 1, right.ctypes.data, 0, 1)
        return (left + right) * np.float32(0.5)

    def play(self, program: int, key: int, velocity: int, steps: int) -> np.ndarray | None:
        synth = self._new_synth()
        sfid = self.lib.fluid_synth_add_sfont(synth.synth, self.sfont)
        try:
            return self._play(synth, sfid, program, key, velocity, steps * BLOCK)
        finally:
            # the holder owns the SoundFont; removing it resets the channels' programs,
            # which warns once per channel that no preset is left: expected, so muted
            previous = self.lib.fluid_set_log_function(FLUID_WARN, None, None)
            self.lib.fluid_synth_remove_sfont(synth.synth, self.sfont)
            self.lib.fluid_set_log_function(FLUID_WARN, previous, None)
            synth.delete()

    def _play(self, synth, sfid: int, program: int, key: int, velocity: int, held: int) -> np.ndarray | None:
        if synth.program_select(0, sfid, 0, program) < 0:
            raise GmRenderError(f"the SoundFont has no GM program {program}")
        synth.noteon(0, key, velocity)
        if synth.get_active_voice_count() == 0:
            return None
        held = min(held, self.max_samples)
        chunks = [self._samples(synth, held)]
        synth.noteoff(0, key)
        rendered = held
        while synth.get_active_voice_count() > 0 and rendered < self.max_samples:
            n = min(TAIL_CHUNK, self.max_samples - rendered)
            chunks.append(self._samples(synth, n))
            rendered += n
        return np.concatenate(chunks)

    def close(self) -> None:
        self.holder.delete()


# --- TiMidity++ -------------------------------------------------------------------------


def timidity_binary() -> str:
    found = shutil.which("timidity")
    if found is None:
        raise GmRenderError("TiMidity++ is missing: sudo apt-get install timidity freepats")
    return found


def timidity_version() -> str:
    """'2.14.0' from `timidity --version`."""
    done = subprocess.run([timidity_binary(), "--version"], capture_output=True, text=True, check=False)
    return done.stdout.split("version", 1)[-1].split()[0] if "version" in done.stdout else "unknown"


def config_programs(config: Path, depth: int = 0) -> dict[int, str]:
    """GM program (0-based) -> what bank 0 of a TiMidity++ config plays for it (a patch file, or
    `%font FILE BANK PRESET` for a SoundFont's preset), following its `source` lines."""
    found: dict[int, str] = {}
    in_bank0 = False
    for line in config.read_text(errors="replace").splitlines():
        words = line.split("#", 1)[0].split()
        if words[:1] == ["source"] and len(words) > 1 and depth < 8:
            found |= config_programs(config.parent / words[1], depth + 1)
        elif words[:1] in (["bank"], ["drumset"]):
            in_bank0 = words[:2] == ["bank", "0"]
        elif in_bank0 and len(words) > 1 and words[0].isdigit():
            found[int(words[0])] = " ".join(words[1:5] if words[1] == "%font" else words[1:2])
    return found


class TimidityPlayer:
    """Plays each note as a one-note MIDI file through the `timidity` command (reverb and
    chorus off, mono, 24 bit, the corpus's rate; amplification `gain` × 100 %). TiMidity++
    renders until its voices fall silent; the silence it appends is cut."""

    def __init__(self, config: Path, sample_rate: int, gain: float, max_seconds: float):
        self.binary = timidity_binary()
        self.config, self.sample_rate = config, sample_rate
        self.amplify = f"-A{round(gain * 100)}"
        self.max_samples = int(max_seconds * sample_rate)

    def steps_for(self, held_s: float) -> int:
        return max(1, round(held_s * TICKS_PER_S))

    def held_seconds(self, steps: int) -> float:
        return steps / TICKS_PER_S

    def play(self, program: int, key: int, velocity: int, steps: int) -> np.ndarray | None:
        track = mido.MidiTrack()
        track.append(mido.Message("program_change", program=program, time=0))
        track.append(mido.Message("note_on", note=key, velocity=velocity, time=0))
        track.append(mido.Message("note_off", note=key, velocity=0, time=steps))
        track.append(mido.MetaMessage("end_of_track", time=0))
        with tempfile.TemporaryDirectory(prefix="rtsynth-timidity-") as tmp:
            midi, wav = Path(tmp) / "note.mid", Path(tmp) / "note.wav"
            mido.MidiFile(tracks=[track], ticks_per_beat=TICKS_PER_BEAT).save(midi)
            options = ["-c", str(self.config), "-idq", "-OwMs2l", "-s", str(self.sample_rate), self.amplify]
            command = [self.binary, *options, "-EFreverb=0", "-EFchorus=0", "-o", str(wav), str(midi)]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0 or not wav.is_file():
                why = (done.stderr or done.stdout).strip()[:200]
                raise GmRenderError(f"timidity -c {self.config} failed: {why}")
            audio = sf.read(wav, dtype="float32")[0][: self.max_samples]
        sounding = np.flatnonzero(audio)
        return audio[: sounding[-1] + 1] if len(sounding) else None

    def close(self) -> None:
        """Nothing held between notes."""
