"""Connectionist temporal classification: the loss, greedy decoding and a head (notebook 12).

CTC (Graves et al. 2006) scores a label sequence :math:`l` (length :math:`S`)
against :math:`T \\ge S` frames of per-frame log-probabilities over the labels
plus a *blank*. An alignment is a frame-by-frame path that collapses to
:math:`l` once repeats are merged and blanks dropped; the loss is
:math:`-\\log \\sum_{\\text{paths}} \\prod_t y_t(\\pi_t)`. The forward algorithm
sums over paths on the extended sequence :math:`l' = (\\varnothing, l_1,
\\varnothing, l_2, \\ldots, l_S, \\varnothing)` of length :math:`2S+1`:

.. math::
    \\alpha_t(s) = y_t(l'_s) \\big[\\alpha_{t-1}(s) + \\alpha_{t-1}(s-1)
        + [l'_s \\ne \\varnothing \\wedge l'_s \\ne l'_{s-2}]\\, \\alpha_{t-1}(s-2)\\big],

with :math:`\\alpha_0(0) = y_0(\\varnothing)`, :math:`\\alpha_0(1) = y_0(l_1)`,
and :math:`p(l \\mid x) = \\alpha_{T-1}(2S) + \\alpha_{T-1}(2S-1)`. Here it is
done in log space (``logsumexp`` instead of ``+``) for a whole batch, and
equals ``torch.nn.functional.ctc_loss``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "ALPHABET",
    "CTCHead",
    "CharVocab",
    "ctc_forward_loss",
    "ctc_forward_variables",
    "ctc_greedy_decode",
]
__all__ += ["normalize_text"]

# A finite stand-in for log(0): logsumexp over only -inf gives NaN gradients, this does not.
_LOG_ZERO = -1e30


def _extended_targets(targets: torch.Tensor, blank: int) -> torch.Tensor:
    """``(batch, S)`` labels to ``(batch, 2S + 1)``: a blank before, between and after them."""
    batch, max_s = targets.shape
    ext = torch.full((batch, 2 * max_s + 1), blank, dtype=torch.long, device=targets.device)
    ext[:, 1::2] = targets
    return ext


def _check_inputs(log_probs, targets, input_lengths, target_lengths):
    if log_probs.ndim != 3:
        raise ValueError(f"log_probs must be (time, batch, classes), got shape {tuple(log_probs.shape)}")
    n_time, batch, _ = log_probs.shape
    device = log_probs.device
    input_lengths = torch.as_tensor(input_lengths, dtype=torch.long, device=device)
    target_lengths = torch.as_tensor(target_lengths, dtype=torch.long, device=device)
    targets = torch.as_tensor(targets, dtype=torch.long, device=device)
    if targets.ndim != 2 or targets.shape[0] != batch:
        raise ValueError(
            f"targets must be (batch={batch}, max_target_length), got shape {tuple(targets.shape)}"
        )
    if input_lengths.shape != (batch,) or target_lengths.shape != (batch,):
        raise ValueError("input_lengths and target_lengths must each hold one length per utterance")
    if int(input_lengths.max()) > n_time or int(input_lengths.min()) < 1:
        raise ValueError(f"input_lengths must be in [1, {n_time}], got {input_lengths.tolist()}")
    if int(target_lengths.max()) > targets.shape[1] or int(target_lengths.min()) < 0:
        raise ValueError(f"target_lengths must be in [0, {targets.shape[1]}], got {target_lengths.tolist()}")
    return targets, input_lengths, target_lengths


def ctc_forward_variables(
    log_probs: torch.Tensor,
    targets: torch.Tensor,
    input_lengths: torch.Tensor | Sequence[int],
    target_lengths: torch.Tensor | Sequence[int],
    *,
    blank: int = 0,
) -> torch.Tensor:
    """The log forward variables :math:`\\log \\alpha_t(s)`: ``(time, batch, 2 * max_target_length + 1)``.

    Arguments as :func:`ctc_forward_loss`. Row ``t`` of utterance ``b`` is the
    log-probability of all path prefixes of ``t + 1`` frames that end in state
    ``s`` of the extended target (even ``s``: a blank; odd ``s``: label
    ``(s - 1) / 2``); unreachable states hold a large negative number (about
    ``-1e30``) instead of ``-inf``. Beyond ``input_lengths[b]`` the last row
    is repeated. Notebook 12 draws it as the alignment lattice.
    """
    targets, input_lengths, target_lengths = _check_inputs(log_probs, targets, input_lengths, target_lengths)
    n_time, batch, _ = log_probs.shape
    device = log_probs.device
    ext = _extended_targets(targets, blank)  # (batch, L), L = 2S + 1
    n_states = ext.shape[1]
    state = torch.arange(n_states, device=device)
    # The skip from s - 2 is allowed into a label that differs from the label two states back.
    ext_two_back = F.pad(ext, (2, 0), value=blank)[:, :n_states]
    can_skip = (ext != blank) & (ext != ext_two_back)
    emit = log_probs.permute(1, 0, 2).gather(2, ext[:, None, :].expand(batch, n_time, n_states))

    alpha = torch.full((batch, n_states), _LOG_ZERO, dtype=log_probs.dtype, device=device)
    alpha = torch.where(state < 2, emit[:, 0], alpha)  # start in the first blank or the first label
    alphas = [alpha]
    for t in range(1, n_time):
        from_prev = F.pad(alpha, (1, 0), value=_LOG_ZERO)[:, :n_states]
        from_skip = F.pad(alpha, (2, 0), value=_LOG_ZERO)[:, :n_states]
        from_skip = torch.where(can_skip, from_skip, torch.full_like(from_skip, _LOG_ZERO))
        new = torch.logsumexp(torch.stack([alpha, from_prev, from_skip]), dim=0) + emit[:, t]
        alpha = torch.where((t < input_lengths)[:, None], new, alpha)  # padded frames keep alpha
        alphas.append(alpha)
    return torch.stack(alphas)


def ctc_forward_loss(
    log_probs: torch.Tensor,
    targets: torch.Tensor,
    input_lengths: torch.Tensor | Sequence[int],
    target_lengths: torch.Tensor | Sequence[int],
    *,
    blank: int = 0,
    reduction: str = "mean",
) -> torch.Tensor:
    """The CTC loss by the forward algorithm in log space (differentiable with autograd).

    ``log_probs``: ``(time, batch, classes)`` log-softmax outputs, the layout of
    ``F.ctc_loss``. ``targets``: ``(batch, max_target_length)`` padded labels
    (never ``blank``). ``input_lengths`` and ``target_lengths``: ``(batch,)``.
    ``reduction``: ``"none"`` gives ``(batch,)`` negative log-likelihoods,
    ``"sum"`` their sum and ``"mean"`` the mean of each loss divided by its
    target length (as PyTorch). An impossible alignment (too few frames) gives
    ``inf``, like ``F.ctc_loss(..., zero_infinity=False)``.
    """
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    alpha = ctc_forward_variables(log_probs, targets, input_lengths, target_lengths, blank=blank)[-1]
    target_lengths = torch.as_tensor(target_lengths, dtype=torch.long, device=log_probs.device)
    last = 2 * target_lengths  # the final blank; the final label is last - 1
    end_blank = alpha.gather(1, last[:, None])[:, 0]
    end_label = alpha.gather(1, (last - 1).clamp(min=0)[:, None])[:, 0]
    end_label = torch.where(target_lengths > 0, end_label, torch.full_like(end_label, _LOG_ZERO))
    nll = -torch.logaddexp(end_blank, end_label)
    nll = torch.where(nll > -_LOG_ZERO / 2, torch.full_like(nll, float("inf")), nll)
    if reduction == "none":
        return nll
    if reduction == "sum":
        return nll.sum()
    return (nll / target_lengths.clamp(min=1).to(nll.dtype)).mean()


def ctc_greedy_decode(
    log_probs: torch.Tensor, lengths: torch.Tensor | Sequence[int] | None = None, *, blank: int = 0
) -> list[list[int]]:
    """Best-path decoding: the most likely class per frame, repeats merged, blanks dropped.

    ``log_probs`` (or logits): ``(batch, time, classes)``, batch-first as the
    encoder outputs them. ``lengths (batch,)`` valid frames per utterance
    (all frames when ``None``). Returns one list of label ids per utterance.
    """
    if log_probs.ndim != 3:
        raise ValueError(f"log_probs must be (batch, time, classes), got shape {tuple(log_probs.shape)}")
    best = log_probs.argmax(dim=-1).cpu()
    if lengths is None:
        lengths = [best.shape[1]] * best.shape[0]
    decoded = []
    for path, length in zip(best, torch.as_tensor(lengths).tolist(), strict=True):
        path = torch.unique_consecutive(path[: int(length)])
        decoded.append([int(c) for c in path if c != blank])
    return decoded


ALPHABET = "abcdefghijklmnopqrstuvwxyz' "  # the course recogniser's characters (CharVocab(ALPHABET))


def normalize_text(text: str) -> str:
    """Lower case, accents dropped (``"café"`` becomes ``"cafe"``, for transcripts of real corpora),
    other characters outside :data:`ALPHABET` become spaces, runs of spaces collapse."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^a-z' ]+", " ", letters).split())


class CharVocab:
    """Characters to CTC label ids and back; id 0 is the blank.

    ``CharVocab("abc ")`` maps ``"a"`` to 1, ``"b"`` to 2 and so on. Text is
    lower-cased; characters outside the alphabet raise ``ValueError``.
    """

    blank = 0

    def __init__(self, alphabet: str):
        if len(set(alphabet)) != len(alphabet) or not alphabet:
            raise ValueError(f"alphabet must be non-empty with no repeated characters, got {alphabet!r}")
        self.alphabet = alphabet
        self._index = {c: i + 1 for i, c in enumerate(alphabet)}

    @classmethod
    def from_texts(cls, texts: Sequence[str]) -> CharVocab:
        """The sorted set of (lower-cased) characters of ``texts``."""
        return cls("".join(sorted(set("".join(texts).lower()))))

    def __len__(self) -> int:
        """Number of classes including the blank."""
        return len(self.alphabet) + 1

    def encode(self, text: str) -> list[int]:
        unknown = sorted(set(text.lower()) - set(self._index))
        if unknown:
            raise ValueError(f"characters {unknown} are not in the alphabet {self.alphabet!r}")
        return [self._index[c] for c in text.lower()]

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.alphabet[i - 1] for i in ids if i != self.blank)


class CTCHead(nn.Module):
    """Dropout and a linear layer from ``(batch, time, d_model)`` to ``(batch, time, n_classes)``
    log-probabilities (``log_softmax``). Class 0 is the blank."""

    def __init__(self, d_model: int, n_classes: int, dropout: float = 0.1):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.proj = nn.Linear(d_model, n_classes)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.proj(self.dropout(hidden)).log_softmax(dim=-1)
