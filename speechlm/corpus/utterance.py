"""The :class:`Utterance`: one spoken sentence with its text, speaker, alignments and labels."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Utterance"]


@dataclass
class Utterance:
    """One utterance of a corpus (embedded or real).

    - ``audio``: float32 mono samples in [-1, 1], shape ``(num_samples,)``.
    - ``sample_rate``: in Hz (16,000 for every corpus loaded by :func:`speechlm.corpus.load`).
    - ``text``: the transcript, lower case for the embedded corpus.
    - ``speaker``: a stable speaker id string.
    - ``words``: ``[(word, start_s, end_s)]`` in order; ``[]`` where a corpus has no alignments.
    - ``phones``: ``[(phone, start_s, end_s)]``, contiguous from 0 to the end of the
      audio, silence as ``"sil"`` (see :data:`speechlm.corpus.PHONES`); ``[]`` without alignments.
    - ``labels``: ``{"task": ..., ...}`` the task's labels (and ``"zh"``, the Chinese translation).
    - ``id``: a name unique within its corpus.
    """

    audio: np.ndarray
    sample_rate: int
    text: str
    speaker: str
    words: list[tuple[str, float, float]] = field(default_factory=list)
    phones: list[tuple[str, float, float]] = field(default_factory=list)
    labels: dict = field(default_factory=dict)
    id: str = ""

    @property
    def duration_s(self) -> float:
        """Length of the audio in seconds."""
        return len(self.audio) / self.sample_rate

    def frame_phones(self, hop_s: float = 0.01, num_frames: int | None = None) -> list[str]:
        """The phone at the centre of each analysis frame (frame ``i`` centred at ``i * hop_s``).

        Shape: ``num_frames`` labels (default: one per hop of the audio). Used to
        train frame classifiers (notebook 04) and to score speech units (notebook 10).
        """
        if not self.phones:
            raise ValueError(f"utterance {self.id or self.text!r} has no phone alignments")
        if num_frames is None:
            num_frames = int(np.ceil(self.duration_s / hop_s))
        ends = np.array([end for _, _, end in self.phones])
        centres = np.arange(num_frames) * hop_s
        index = np.minimum(np.searchsorted(ends, centres, side="right"), len(self.phones) - 1)
        return [self.phones[i][0] for i in index]

    def __repr__(self) -> str:
        return (
            f"Utterance(id={self.id!r}, text={self.text!r}, speaker={self.speaker!r}, "
            f"duration_s={self.duration_s:.2f}, task={self.labels.get('task')!r})"
        )
