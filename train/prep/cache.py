"""The dataset cache: the contract between preprocessing and training/evaluation.

A cache is a directory:
  mels.npy       float16 [N, n_mels, n_frames] in [0, 1], memory-mapped on load
  labels.npz     int16 class indices per descriptor (timbre, pitch, dynamics, duration),
                 split (int8: 0 train, 1 val, 2 test), peak_db and duration_s (float32)
  notes.csv      the same per note, human-readable, with each note's source id
  manifest.json  format version, settings, options, input fingerprint, vocabulary
manifest.json is written last, so a cache without it is incomplete and is rebuilt.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtsynth.errors import RtsynthError
from rtsynth.labels import DESCRIPTORS, Vocabulary
from rtsynth.settings import MelSettings

CACHE_FORMAT = 1
SPLITS = ("train", "val", "test")


class CacheError(RtsynthError, RuntimeError):
    pass


@dataclass
class NoteCache:
    root: Path
    mels: np.ndarray  # [N, n_mels, n_frames] float16, memory-mapped
    labels: dict[str, np.ndarray]  # descriptor -> [N] int64 class index
    split: np.ndarray  # [N] int8
    peak_db: np.ndarray  # [N] float32
    duration_s: np.ndarray  # [N] float32
    vocab: Vocabulary
    mel_settings: MelSettings
    manifest: dict

    def __len__(self) -> int:
        return len(self.split)

    def indices(self, split: str) -> np.ndarray:
        return np.flatnonzero(self.split == SPLITS.index(split))

    def label_matrix(self, idx: np.ndarray | None = None) -> np.ndarray:
        """[n, 4] class indices in DESCRIPTORS order."""
        stacked = np.stack([self.labels[d] for d in DESCRIPTORS], axis=1)
        return stacked if idx is None else stacked[idx]

    @classmethod
    def load(cls, root: str | Path, mmap: bool = True) -> NoteCache:
        root = Path(root)
        manifest_path = root / "manifest.json"
        if not manifest_path.is_file():
            raise CacheError(f"{root} is not a complete dataset cache (no manifest.json); run `rtsynth data prep`")
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("format") != CACHE_FORMAT:
            raise CacheError(f"{root}: cache format {manifest.get('format')} != {CACHE_FORMAT}; re-run prep")
        mels = np.load(root / "mels.npy", mmap_mode="r" if mmap else None)
        with np.load(root / "labels.npz") as z:
            arrays = {k: z[k] for k in z.files}
        if len(mels) != len(arrays["split"]):
            raise CacheError(f"{root}: {len(mels)} mels but {len(arrays['split'])} labels")
        return cls(
            root=root,
            mels=mels,
            labels={d: arrays[d].astype(np.int64) for d in DESCRIPTORS},
            split=arrays["split"],
            peak_db=arrays["peak_db"],
            duration_s=arrays["duration_s"],
            vocab=Vocabulary.from_dict(manifest["vocabulary"]),
            mel_settings=MelSettings.from_dict(manifest["mel_settings"]),
            manifest=manifest,
        )


def write_cache(
    root: str | Path,
    mels: np.ndarray,
    labels: dict[str, np.ndarray],
    split: np.ndarray,
    peak_db: np.ndarray,
    duration_s: np.ndarray,
    source_ids: list[str],
    vocab: Vocabulary,
    mel_settings: MelSettings,
    manifest_extra: dict,
) -> Path:
    """Write every file atomically (temp name + rename), manifest last."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").unlink(missing_ok=True)  # incomplete until rewritten
    _atomic(root / "mels.npy", lambda f: np.save(f, np.asarray(mels, dtype=np.float16)))
    arrays = {d: np.asarray(labels[d], dtype=np.int16) for d in DESCRIPTORS}
    arrays.update(
        split=np.asarray(split, dtype=np.int8),
        peak_db=np.asarray(peak_db, dtype=np.float32),
        duration_s=np.asarray(duration_s, dtype=np.float32),
    )
    _atomic(root / "labels.npz", lambda f: np.savez(f, allow_pickle=False, **arrays))
    _atomic(root / "notes.csv", lambda f: _write_notes_csv(f, arrays, source_ids, vocab), text=True)
    manifest = {
        "format": CACHE_FORMAT,
        "count": len(split),
        "mel_settings": mel_settings.to_dict(),
        "vocabulary": vocab.to_dict(),
        **manifest_extra,
    }
    _atomic(root / "manifest.json", lambda f: json.dump(manifest, f, indent=2), text=True)
    return root


def _write_notes_csv(f, arrays: dict, source_ids: list[str], vocab: Vocabulary) -> None:
    writer = csv.writer(f)
    writer.writerow(["index", "source", *DESCRIPTORS, "duration_s", "peak_db", "split"])
    for i, source in enumerate(source_ids):
        values = [vocab.classes(d)[arrays[d][i]] for d in DESCRIPTORS]
        writer.writerow(
            [
                i,
                source,
                *values,
                f"{arrays['duration_s'][i]:.3f}",
                f"{arrays['peak_db'][i]:.2f}",
                SPLITS[arrays["split"][i]],
            ]
        )


def _atomic(path: Path, write, text: bool = False) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w" if text else "wb", newline="" if text else None) as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
