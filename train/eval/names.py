"""Short names used in tables and figures."""

from __future__ import annotations

from rtsynth.labels import note_name

SYMBOL = {"timbre": "T", "pitch": "P", "dynamics": "V", "duration": "D"}
"""The paper's letters for the descriptors."""


def class_name(vocab, descriptor: str, index: int) -> str:
    value = vocab.classes(descriptor)[index]
    if descriptor == "pitch":
        return note_name(int(value))
    if descriptor == "duration":
        return f"{value:g}s"
    return str(value)
