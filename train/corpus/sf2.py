"""What a SoundFont holds for a General MIDI preset, read from the SF2 file's preset tables.

Why read the file: FluidSynth only tells whether a key sounds, not which samples sound it. Two
presets that play the same samples (a small bank may give viola the violin's recordings) would
render as different instruments with one timbre, and a key far outside every zone of a preset
renders silent; the corpus report says both before anything is rendered. Only the fields that
say this are read (SF2 2.04 section 7: phdr/pbag/pgen, inst/ibag/igen, shdr).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from rtsynth.errors import RtsynthError

GEN_KEY_RANGE = 43  # sfGenerator keyRange: (lo, hi) bytes
GEN_INSTRUMENT = 41  # preset zone -> instrument index
GEN_SAMPLE = 53  # instrument zone -> sample index
FULL_RANGE = (0, 127)
RECORDS = {  # sub-chunk: (struct format, record size)
    b"phdr": ("<20sHHH12x", 38),
    b"pbag": ("<HH", 4),
    b"pgen": ("<HH", 4),
    b"inst": ("<20sH", 22),
    b"ibag": ("<HH", 4),
    b"igen": ("<HH", 4),
    b"shdr": ("<20s26x", 46),
}


class SoundFontReadError(RtsynthError, ValueError):
    """The file is not an SF2 SoundFont this reader understands."""


@dataclass(frozen=True)
class PresetCover:
    """The keys a preset has a sample for, and which samples those are."""

    name: str
    keys: frozenset[int]
    samples: frozenset[str]


def _chunks(data: bytes, start: int, end: int) -> dict[bytes, tuple[int, int]]:
    """id -> (offset, size) of the RIFF sub-chunks in data[start:end]."""
    found = {}
    while start + 8 <= end:
        cid, size = data[start : start + 4], struct.unpack_from("<I", data, start + 4)[0]
        found[cid] = (start + 8, size)
        start += 8 + size + (size & 1)
    return found


def _tables(path: Path) -> dict[bytes, list[tuple]]:
    data = path.read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"sfbk":
        raise SoundFontReadError(f"{path} is not an SF2 SoundFont (no RIFF sfbk header)")
    for offset, size in _chunks(data, 12, len(data)).values():
        if data[offset : offset + 4] == b"pdta":
            pdta = _chunks(data, offset + 4, offset + size)
            if not set(RECORDS) <= set(pdta):
                raise SoundFontReadError(f"{path}: its preset data lacks {sorted(set(RECORDS) - set(pdta))}")
            return {
                cid: [struct.unpack_from(fmt, data, pdta[cid][0] + i * n) for i in range(pdta[cid][1] // n)]
                for cid, (fmt, n) in RECORDS.items()
            }
    raise SoundFontReadError(f"{path} has no preset data (pdta chunk)")


def _name(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("latin-1").strip()


def _zones(bags: list[tuple], gens: list[tuple], first: int, last: int) -> list[dict[int, int]]:
    """Each zone's generators (operator -> raw 16-bit amount) for bags first..last-1."""
    return [{op: amount for op, amount in gens[bags[b][0] : bags[b + 1][0]]} for b in range(first, last)]


def _key_range(zone: dict[int, int]) -> tuple[int, int]:
    amount = zone.get(GEN_KEY_RANGE)
    return FULL_RANGE if amount is None else (amount & 0xFF, amount >> 8)


def read_presets(path: str | Path, bank: int = 0) -> dict[int, PresetCover]:
    """program -> what that preset of `bank` covers (only presets the file has)."""
    t = _tables(Path(path))
    covers = {}
    for p, (raw, program, preset_bank, bag) in enumerate(t[b"phdr"][:-1]):  # the last record is the EOP sentinel
        if preset_bank != bank:
            continue
        keys: set[int] = set()
        samples: set[str] = set()
        for pzone in _zones(t[b"pbag"], t[b"pgen"], bag, t[b"phdr"][p + 1][3]):
            if GEN_INSTRUMENT not in pzone:
                continue  # a global zone
            inst = pzone[GEN_INSTRUMENT]
            plo, phi = _key_range(pzone)
            for izone in _zones(t[b"ibag"], t[b"igen"], t[b"inst"][inst][1], t[b"inst"][inst + 1][1]):
                if GEN_SAMPLE in izone:
                    ilo, ihi = _key_range(izone)
                    keys.update(range(max(plo, ilo), min(phi, ihi) + 1))
                    samples.add(_name(t[b"shdr"][izone[GEN_SAMPLE]][0]))
        covers[program] = PresetCover(_name(raw), frozenset(keys), frozenset(samples))
    return covers
