"""The labels of a voice command: fields, slot vocabulary, prepared items and batches (notebook 14)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from speechlm.batching import pad_sequences
from speechlm.features import log_mel_features

FIELDS = ("intent", "action", "device", "room")  # the labels of the corpus's "commands" task
UNSEEN_LABEL = -100  # target index of a label never seen in training: no loss, always an error


@dataclass(frozen=True)
class SlotVocab:
    """The classes of each field, from training labels: ``classes["room"] = ("bathroom", ...)``."""

    classes: dict[str, tuple[str, ...]]

    @classmethod
    def from_labels(cls, labels: Sequence[dict], fields: Sequence[str] = FIELDS) -> SlotVocab:
        """Collect the sorted classes of ``fields`` from label dicts (e.g. ``u.labels`` of commands)."""
        if not labels:
            raise ValueError("SlotVocab needs at least one label dict")
        missing = [f for f in fields if any(f not in lab for lab in labels)]
        if missing:
            raise ValueError(f"every label dict needs the fields {tuple(fields)}; missing {missing[0]!r}")
        return cls({f: tuple(sorted({str(lab[f]) for lab in labels})) for f in fields})

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.classes)

    def encode(self, labels: dict) -> torch.Tensor:
        """``(n_fields,)`` int64 class indices; a label unseen in training gets ``UNSEEN_LABEL`` (-100)."""
        index = [{c: i for i, c in enumerate(self.classes[f])} for f in self.fields]
        return torch.tensor(
            [ix.get(str(labels[f]), UNSEEN_LABEL) for ix, f in zip(index, self.fields, strict=True)]
        )


@dataclass
class SLUItem:
    """A prepared utterance: ``mels (mel_frames, n_mels)``, ``targets (n_fields,)``, its ``labels``."""

    mels: torch.Tensor
    targets: torch.Tensor
    labels: dict


def prepare_slu(utterances: Sequence, vocab: SlotVocab) -> list[SLUItem]:
    """Log-mel features and field targets of utterances (with ``.audio``, ``.sample_rate``, ``.labels``)."""
    return [
        SLUItem(log_mel_features(u.audio, u.sample_rate), vocab.encode(u.labels), dict(u.labels))
        for u in utterances
    ]


def _collate(items: Sequence[SLUItem]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    mels, mel_lengths = pad_sequences([it.mels for it in items])
    return mels, mel_lengths, torch.stack([it.targets for it in items])


def compose_intent(action: str, device: str) -> str:
    """The corpus's intent of an action and a device: ``("lock", "back door")`` -> ``"lock_back_door"``."""
    if not action or not device:
        raise ValueError(f"action and device must be non-empty strings, got {action!r} and {device!r}")
    return f"{action}_{device.replace(' ', '_')}"
