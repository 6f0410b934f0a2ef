"""An independent CNN that names T/P/V/D of a mel, trained on the real mels of one cache.

Paper 003 judges generated notes with classifiers trained on real data, not with the
model's own classifiers (which look at latents and would grade the model by itself).
It is trained once per dataset cache and saved beside it, keyed by a hash of the cache
manifest and of this classifier's settings, so every run on that cache is judged by the
same network. Its own test accuracy is reported: it bounds what controllability can show.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from rtsynth.labels import DESCRIPTORS
from rtsynth.train.eval.latents import batched, load_mels
from rtsynth.train.losses import tensor_sum

log = logging.getLogger(__name__)

CLASSIFIER_VERSION = 1  # part of the cache key: bump it when MelClassifier or its training changes
FILE_STEM = "eval_classifier"


@dataclass(frozen=True)
class ClassifierConfig:
    epochs: int = 15
    patience: int = 3  # epochs without a better validation accuracy before stopping
    batch_size: int = 64
    lr: float = 2e-3
    seed: int = 0
    time_pool: int = 4  # frames averaged first: durations are 250 ms (~11 frames) apart


class MelClassifier(nn.Module):
    """Small CNN plus two summaries of the mel, shared by four linear heads.

    The CNN (time pooled first, a strided stem, two stride-2 layers) sees local patterns:
    harmonic structure and attacks. Its features are flattened rather than globally
    pooled so position (pitch in frequency) survives. Two cheap summaries carry what the
    strided CNN blurs: the energy envelope over every frame (duration, 250 ms classes) and
    the time-averaged spectrum over every mel band (pitch, semitones).
    """

    def __init__(self, vocab_sizes: dict[str, int], n_mels: int, n_frames: int, time_pool: int = 4):
        super().__init__()
        self.vocab_sizes = dict(vocab_sizes)
        self.cnn = nn.Sequential(
            nn.AvgPool2d((1, time_pool)),
            *_conv(1, 16, kernel=(4, 2), stride=(4, 2), padding=0),
            *_conv(16, 32, kernel=3, stride=2, padding=1),
            *_conv(32, 64, kernel=3, stride=2, padding=1),
            nn.Flatten(),
        )
        with torch.no_grad():
            flat = self.cnn(torch.zeros(1, 1, n_mels, n_frames)).shape[1]
        self.trunk = nn.Sequential(nn.Linear(flat + n_mels + n_frames, 256), nn.ReLU(), nn.Dropout(0.3))
        self.heads = nn.ModuleDict({d: nn.Linear(256, vocab_sizes[d]) for d in DESCRIPTORS})

    def forward(self, mel: torch.Tensor) -> dict[str, torch.Tensor]:
        features = torch.cat([self.cnn(mel.unsqueeze(1)), mel.mean(dim=1), mel.mean(dim=2)], dim=1)
        h = self.trunk(features)
        return {d: head(h) for d, head in self.heads.items()}


def _conv(c_in: int, c_out: int, kernel, stride, padding) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding), nn.BatchNorm2d(c_out), nn.ReLU()]


@dataclass
class TrainedClassifier:
    model: MelClassifier
    info: dict  # key, config, per-split accuracies, epochs trained
    path: Path

    @torch.no_grad()
    def probabilities(self, mels: np.ndarray, batch_size: int = 64) -> dict[str, np.ndarray]:
        """descriptor -> [n, K] softmax posteriors for mels [n, n_mels, n_frames] in [0, 1]."""
        self.model.eval()
        out: dict[str, list] = {d: [] for d in DESCRIPTORS}
        for rows in batched(len(mels), batch_size):
            logits = self.model(torch.from_numpy(np.ascontiguousarray(mels[rows], dtype=np.float32)))
            for d in DESCRIPTORS:
                out[d].append(torch.softmax(logits[d], dim=1).numpy())
        return {d: np.concatenate(v) for d, v in out.items()}


def cache_key(cache, config: ClassifierConfig) -> str:
    manifest = (Path(cache.root) / "manifest.json").read_bytes()
    settings = json.dumps({"version": CLASSIFIER_VERSION, **asdict(config)}, sort_keys=True).encode()
    return hashlib.sha256(manifest + settings).hexdigest()[:16]


def load_or_train(cache, fallback_root: Path, config: ClassifierConfig = ClassifierConfig()) -> TrainedClassifier:
    """The cache's classifier: loaded if one with the same key exists, else trained and saved.

    Saved in the cache directory; where that is not writable, in `fallback_root`/KEY.
    """
    key = cache_key(cache, config)
    folders = (Path(cache.root), Path(fallback_root) / key)
    for folder in folders:
        found = _load(folder, key, cache)
        if found is not None:
            log.info("independent classifier: loaded %s (test accuracy %s)", found.path, found.info["accuracy"]["test"])
            return found
    model, info = train_classifier(cache, config)
    info["key"] = key
    for folder in folders:
        try:
            return _save(folder, model, info)
        except OSError as err:
            log.warning("cannot save the independent classifier in %s: %s", folder, err)
    raise OSError(f"could not save the independent classifier in any of {[str(f) for f in folders]}")


def _load(folder: Path, key: str, cache) -> TrainedClassifier | None:
    meta_path, weights_path = folder / f"{FILE_STEM}.json", folder / f"{FILE_STEM}.pt"
    if not (meta_path.is_file() and weights_path.is_file()):
        return None
    try:
        info = json.loads(meta_path.read_text())
        if info.get("key") != key:
            log.info("the classifier in %s was trained for another cache or settings; not used", folder)
            return None
        model = _build(cache, ClassifierConfig(**info["config"]))
        model.load_state_dict(torch.load(weights_path, map_location="cpu", weights_only=True))
    except (ValueError, TypeError, KeyError, RuntimeError) as err:  # a torn or foreign file: train anew
        log.warning("cannot read the classifier in %s (%s); it will be retrained", folder, err)
        return None
    model.eval()
    return TrainedClassifier(model, info, weights_path)


def _save(folder: Path, model: MelClassifier, info: dict) -> TrainedClassifier:
    folder.mkdir(parents=True, exist_ok=True)
    weights_path = folder / f"{FILE_STEM}.pt"
    for path, write in (
        (weights_path, lambda p: torch.save(model.state_dict(), p)),
        (folder / f"{FILE_STEM}.json", lambda p: p.write_text(json.dumps(info, indent=2))),
    ):
        tmp = path.with_name(f".{path.name}.tmp")
        write(tmp)
        os.replace(tmp, path)
    log.info("independent classifier saved to %s", weights_path)
    return TrainedClassifier(model, info, weights_path)


def _build(cache, config: ClassifierConfig) -> MelClassifier:
    n_mels, n_frames = cache.mels.shape[1:]
    return MelClassifier(cache.vocab.sizes(), n_mels, n_frames, config.time_pool)


def train_classifier(cache, config: ClassifierConfig) -> tuple[MelClassifier, dict]:
    """Adam on the summed cross-entropy; the epoch with the best mean validation accuracy is kept."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    train_idx, val_idx = cache.indices("train"), cache.indices("val")
    if not len(train_idx):
        raise ValueError(f"cache {cache.root} has no training notes to train the independent classifier on")
    select_idx = val_idx if len(val_idx) else train_idx  # a tiny cache may have no validation notes
    model = _build(cache, config)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    best, best_state, stale, epochs = -1.0, None, 0, 0
    bar = tqdm(range(config.epochs), desc="independent classifier", unit="epoch")
    for _ in bar:
        epochs += 1
        loss = _train_epoch(model, optimiser, cache, rng.permutation(train_idx), config.batch_size)
        score = float(np.mean(list(_accuracy(model, cache, select_idx).values())))
        bar.set_postfix(loss=f"{loss:.3f}", val_acc=f"{score:.3f}")
        if score > best:
            best, best_state, stale = score, {k: v.clone() for k, v in model.state_dict().items()}, 0
        else:
            stale += 1
            if stale >= config.patience:
                break
    if best_state is None:
        raise ValueError(f"the independent classifier never scored a validation accuracy in {epochs} epoch(s)")
    model.load_state_dict(best_state)
    model.eval()
    accuracy = {split: _accuracy(model, cache, cache.indices(split)) or None for split in ("train", "val", "test")}
    info = {"version": CLASSIFIER_VERSION, "config": asdict(config), "epochs": epochs, "accuracy": accuracy}
    log.info("independent classifier test accuracy: %s", accuracy["test"])
    return model, info


def _train_epoch(model, optimiser, cache, order: np.ndarray, batch_size: int) -> float:
    model.train()
    losses = []
    for rows in batched(len(order), batch_size):
        idx = order[rows]
        if len(idx) < 2:  # BatchNorm needs more than one note
            continue
        logits = model(torch.from_numpy(load_mels(cache, idx)))
        labels = cache.label_matrix(idx)
        loss = tensor_sum(
            nn.functional.cross_entropy(logits[d], torch.from_numpy(labels[:, j])) for j, d in enumerate(DESCRIPTORS)
        )
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    return float(np.mean(losses)) if losses else float("nan")


@torch.no_grad()
def _accuracy(model, cache, idx: np.ndarray, batch_size: int = 64) -> dict[str, float]:
    """Per-descriptor accuracy on the notes `idx`; empty dict for no notes."""
    if not len(idx):
        return {}
    model.eval()
    correct = np.zeros(len(DESCRIPTORS))
    for rows in batched(len(idx), batch_size):
        logits = model(torch.from_numpy(load_mels(cache, idx[rows])))
        labels = cache.label_matrix(idx[rows])
        correct += [(logits[d].argmax(1).numpy() == labels[:, j]).sum() for j, d in enumerate(DESCRIPTORS)]
    return {d: float(c / len(idx)) for d, c in zip(DESCRIPTORS, correct)}
