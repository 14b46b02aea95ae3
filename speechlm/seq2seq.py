"""Encoder-decoder Transformer, teacher forcing, greedy and beam search decoding (notebook 16).

.. math::
    p(y \\mid x) = \\prod_{t=1}^{T} p(y_t \\mid y_{<t}, \\mathrm{Enc}(x)), \\qquad
    \\mathrm{CrossAttn}(Y, M) = \\mathrm{softmax}\\left(\\frac{(Y W_Q)(M W_K)^\\top}{\\sqrt{d}}\\right) M W_V

* :class:`DecoderBlock`: pre-LN causal self-attention, cross-attention to the encoder memory
  ``M (batch, source, d_model)`` (padded source frames masked), feed-forward. It equals
  ``nn.TransformerDecoderLayer(norm_first=True, batch_first=True)`` once weights are copied
  (:meth:`DecoderBlock.copy_from_torch`) and can return the cross-attention weights.
* :class:`TokenEncoder` (source tokens, for text translation) and :class:`FeatureEncoder` (frames
  such as the pretrained speech encoder's output, :func:`speech_features`) give the memory;
  :class:`Seq2Seq` joins an encoder and a :class:`TransformerDecoder`.
* Teacher forcing (:func:`teacher_forcing_batch`, :func:`seq2seq_loss`, :func:`train_seq2seq`):
  the decoder reads the reference prefix ``<bos> y_1 .. y_{T}`` and predicts ``y_1 .. y_T <eos>``.
* :func:`greedy_decode` (batched) and :func:`beam_search` (one utterance at a time, a shrinking beam:
  a hypothesis that emits ``<eos>`` leaves the beam, which narrows by one; the best finished
  hypothesis by ``log p / length ** length_penalty`` wins).

Token conventions follow :class:`speechlm.text.CharTokenizer`: ``<eos>`` (id 2) also starts every
target (the ``<bos>``), id 0 pads. :func:`chinese_tokenizer` builds the character vocabulary of the
Chinese side; :func:`translation_scores` computes chrF and BLEU with ``sacrebleu``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from speechlm.attention import MultiHeadAttention
from speechlm.audio import SAMPLE_RATE
from speechlm.batching import lengths_to_mask, pad_sequences, shuffled_batches
from speechlm.optim import scheduler, tenth
from speechlm.text import CharTokenizer
from speechlm.train import fit
from speechlm.transformer import PositionalEncoding, TransformerEncoder

__all__ = [
    "DecoderBlock",
    "FeatureEncoder",
    "Hypothesis",
    "Seq2Seq",
    "TokenEncoder",
    "TransformerDecoder",
    "beam_search",
    "chinese_tokenizer",
    "greedy_decode",
    "sentence_chrf",
    "seq2seq_loss",
    "speech_features",
    "teacher_forcing_batch",
    "train_seq2seq",
    "translate",
    "translation_scores",
]


class DecoderBlock(nn.Module):
    """One pre-LN decoder layer on ``x (batch, target, d_model)`` and ``memory (batch, source, d_model)``:
    ``x += SelfAttn(LN1(x), causal)``; ``x += CrossAttn(LN2(x), memory)``; ``x += FF(LN3(x))``."""

    def __init__(
        self, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.1, activation: str = "relu"
    ):
        super().__init__()
        if activation not in ("relu", "gelu"):
            raise ValueError(f"activation must be 'relu' or 'gelu', got {activation!r}")
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout=dropout)
        self.cross_attn = MultiHeadAttention(d_model, num_heads, dropout=dropout)
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(d_model) for _ in range(3))
        self.linear1, self.linear2 = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)
        self.activation = F.relu if activation == "relu" else F.gelu

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        memory_padding_mask: torch.Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``memory_padding_mask (batch, source)`` True at padded frames. Returns ``(x, weights)`` with the
        cross-attention ``weights (batch, heads, target, source)`` if ``need_weights``, else ``None``.
        Right-padded targets need no mask: the causal mask keeps real positions from seeing them."""
        attended, _ = self.self_attn(self.norm1(x), causal=True)
        x = x + self.dropout(attended)
        attended, weights = self.cross_attn(
            self.norm2(x), memory, key_padding_mask=memory_padding_mask, need_weights=need_weights
        )
        x = x + self.dropout(attended)
        x = x + self.dropout(self.linear2(self.dropout(self.activation(self.linear1(self.norm3(x))))))
        return x, weights

    @torch.no_grad()
    def copy_from_torch(self, layer: nn.TransformerDecoderLayer) -> DecoderBlock:
        """Copy the weights of a ``nn.TransformerDecoderLayer(norm_first=True)`` of the same sizes."""
        if not layer.norm_first:
            raise ValueError("this is a pre-LN block: copy from nn.TransformerDecoderLayer(norm_first=True)")
        self.self_attn.copy_from_torch(layer.self_attn)
        self.cross_attn.copy_from_torch(layer.multihead_attn)
        for name in ("norm1", "norm2", "norm3", "linear1", "linear2"):
            getattr(self, name).load_state_dict(getattr(layer, name).state_dict())
        return self


class TransformerDecoder(nn.Module):
    """Token embedding, sinusoidal positions, :class:`DecoderBlock` s, a final LayerNorm and an output
    layer: ``tokens (batch, target)`` and ``memory (batch, source, d_model)`` to ``logits (batch, target,
    vocab_size)``."""

    def __init__(
        self,
        vocab_size: int,
        d_model: int = 128,
        num_layers: int = 2,
        num_heads: int = 4,
        d_ff: int = 512,
        dropout: float = 0.1,
        max_len: int = 256,
    ):
        super().__init__()
        self.vocab_size, self.d_model = vocab_size, d_model
        self.embed = nn.Embedding(vocab_size, d_model)
        self.position = PositionalEncoding(d_model, max_len, dropout)
        self.layers = nn.ModuleList(
            DecoderBlock(d_model, num_heads, d_ff, dropout) for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, vocab_size)

    def forward(
        self,
        tokens: torch.Tensor,
        memory: torch.Tensor,
        memory_padding_mask: torch.Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Returns ``(logits, cross-attention weights per layer)`` (an empty list unless ``need_weights``)."""
        if tokens.ndim != 2 or tokens.dtype != torch.long:
            raise ValueError(
                f"tokens must be int64 (batch, target), got {tokens.dtype} {tuple(tokens.shape)}"
            )
        if tokens.numel() and not 0 <= int(tokens.min()) <= int(tokens.max()) < self.vocab_size:
            raise ValueError(f"token ids must lie in 0..{self.vocab_size - 1}")
        if memory.ndim != 3 or memory.shape[0] != tokens.shape[0] or memory.shape[2] != self.d_model:
            raise ValueError(
                f"memory must be (batch={tokens.shape[0]}, source, {self.d_model}), got {tuple(memory.shape)}"
            )
        x = self.position(self.embed(tokens))
        maps = []
        for layer in self.layers:
            x, weights = layer(x, memory, memory_padding_mask, need_weights)
            if need_weights:
                maps.append(weights)
        return self.out(self.norm(x)), maps


def _source_mask(lengths: torch.Tensor, source_len: int, batch: int) -> torch.Tensor:
    lengths = torch.as_tensor(lengths)
    if lengths.shape != (batch,):
        raise ValueError(
            f"src_lengths must be ({batch},) (one length per source), got {tuple(lengths.shape)}"
        )
    if int(lengths.min()) < 1 or int(lengths.max()) > source_len:
        raise ValueError(
            f"src_lengths must lie in 1..{source_len} (the padded length), got {lengths.tolist()}"
        )
    return ~lengths_to_mask(lengths, source_len)


class TokenEncoder(nn.Module):
    """Source tokens ``(batch, source)`` to ``memory (batch, source, d_model)``: embedding, sinusoidal
    positions and a pre-LN :class:`speechlm.transformer.TransformerEncoder` (notebook 07)."""

    def __init__(
        self,
        vocab_size: int,
        d_model: int = 128,
        num_layers: int = 2,
        num_heads: int = 4,
        d_ff: int = 512,
        dropout: float = 0.1,
        max_len: int = 512,
    ):
        super().__init__()
        self.vocab_size = vocab_size
        self.embed = nn.Embedding(vocab_size, d_model)
        self.position = PositionalEncoding(d_model, max_len, dropout)
        self.encoder = TransformerEncoder(num_layers, d_model, num_heads, d_ff, dropout)

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(memory, padding_mask (batch, source) True at padding)``."""
        if src.ndim != 2 or src.dtype != torch.long:
            raise ValueError(
                f"src must be int64 token ids (batch, source), got {src.dtype} {tuple(src.shape)}"
            )
        if not 0 <= int(src.min()) <= int(src.max()) < self.vocab_size:
            raise ValueError(f"source token ids must lie in 0..{self.vocab_size - 1}")
        padding = _source_mask(src_lengths, src.shape[1], src.shape[0])
        memory, _ = self.encoder(self.position(self.embed(src)), key_padding_mask=padding)
        return memory, padding


class FeatureEncoder(nn.Module):
    """Frames ``(batch, source, in_dim)`` (e.g. :func:`speech_features`) to ``memory (batch, ceil(source /
    stack), d_model)``: every ``stack`` consecutive frames concatenated (fewer, wider frames: cheaper
    attention), LayerNorm, a linear projection, sinusoidal positions and ``num_layers`` pre-LN encoder
    blocks (0 for a projection only)."""

    def __init__(
        self,
        in_dim: int,
        d_model: int = 128,
        num_layers: int = 1,
        num_heads: int = 4,
        d_ff: int = 512,
        dropout: float = 0.1,
        stack: int = 1,
        max_len: int = 2048,
    ):
        super().__init__()
        if stack < 1:
            raise ValueError(f"stack must be at least 1, got {stack}")
        self.in_dim, self.stack = in_dim, stack
        self.project = nn.Sequential(nn.LayerNorm(in_dim * stack), nn.Linear(in_dim * stack, d_model))
        self.position = PositionalEncoding(d_model, max_len, dropout)
        self.encoder = TransformerEncoder(num_layers, d_model, num_heads, d_ff, dropout)

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(memory, padding_mask (batch, source) True at padding)``."""
        if src.ndim != 3 or src.shape[-1] != self.in_dim or not src.is_floating_point():
            raise ValueError(
                f"src must be float frames (batch, source, {self.in_dim}), got {tuple(src.shape)}"
            )
        _source_mask(src_lengths, src.shape[1], src.shape[0])
        batch, time, _ = src.shape
        src = F.pad(src * lengths_to_mask(src_lengths, time)[..., None], (0, 0, 0, -time % self.stack))
        frames = src.reshape(batch, -1, self.stack * self.in_dim)
        padding = ~lengths_to_mask(-(-torch.as_tensor(src_lengths) // self.stack), frames.shape[1])
        memory, _ = self.encoder(self.position(self.project(frames)), key_padding_mask=padding)
        return memory, padding


class Seq2Seq(nn.Module):
    """An encoder (``(src, src_lengths) -> (memory, padding_mask)``) and a :class:`TransformerDecoder`.
    ``bos_id`` starts every target, ``eos_id`` ends it, ``pad_id`` pads (ignored by the loss)."""

    def __init__(
        self,
        encoder: nn.Module,
        decoder: TransformerDecoder,
        bos_id: int = 2,
        eos_id: int = 2,
        pad_id: int = 0,
    ):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(memory (batch, source', d_model), padding_mask (batch, source'))`` of the encoder."""
        return self.encoder(src, src_lengths)

    def forward(
        self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor, need_weights: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Teacher-forced ``logits (batch, target, vocab)`` for decoder input ``tgt_in (batch, target)``,
        and the cross-attention weights per layer ``(batch, heads, target, source)`` if ``need_weights``."""
        memory, padding = self.encode(src, src_lengths)
        return self.decoder(tgt_in, memory, padding, need_weights)

    @torch.no_grad()
    def cross_attention(self, src: torch.Tensor, tokens: Sequence[int]) -> torch.Tensor:
        """Cross-attention of one source ``src`` (``(source,)`` ids or ``(source, in_dim)`` frames) while
        reading ``<bos> tokens``: ``(num_layers, heads, len(tokens) + 1, source)``; rows sum to 1."""
        self.eval()
        tgt = torch.tensor([[self.bos_id, *tokens]], dtype=torch.long)
        _, maps = self(src[None], torch.tensor([src.shape[0]]), tgt, need_weights=True)
        return torch.stack([m[0] for m in maps])


def chinese_tokenizer(texts: Sequence[str]) -> CharTokenizer:
    """A character tokenizer over the Chinese ``texts`` (each character one token, no lower-casing), with
    :class:`~speechlm.text.CharTokenizer`'s ids: 0 pad, 1 ``<unk>``, 2 ``<eos>`` (also the ``<bos>``)."""
    texts = list(texts)
    bad = [t for t in texts if not isinstance(t, str) or not t.strip()]
    if not texts or bad:
        raise ValueError(f"expected a non-empty list of non-empty Chinese strings, got {bad[:3] or texts!r}")
    return CharTokenizer.from_texts([t.replace(" ", "") for t in texts], lowercase=False)


def teacher_forcing_batch(
    targets: Sequence[Sequence[int]], bos_id: int = 2, eos_id: int = 2, pad_id: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decoder input ``<bos> y_1 .. y_T`` and output ``y_1 .. y_T <eos>``, both ``(batch, max T + 1)``
    int64, right-padded with ``pad_id``."""
    if not targets:
        raise ValueError("teacher_forcing_batch needs at least one target sequence")
    tgt_in, _ = pad_sequences([torch.tensor([bos_id, *t], dtype=torch.long) for t in targets], pad_id)
    tgt_out, _ = pad_sequences([torch.tensor([*t, eos_id], dtype=torch.long) for t in targets], pad_id)
    return tgt_in, tgt_out


def seq2seq_loss(
    logits: torch.Tensor, tgt_out: torch.Tensor, pad_id: int = 0, label_smoothing: float = 0.0
) -> torch.Tensor:
    """Mean cross-entropy (nats per target token) of ``logits (batch, target, vocab)`` against
    ``tgt_out (batch, target)``, ignoring ``pad_id``; ``label_smoothing`` in [0, 1) spreads that much
    probability mass uniformly over the vocabulary (Szegedy et al. 2016)."""
    if logits.shape[:2] != tgt_out.shape:
        raise ValueError(f"logits {tuple(logits.shape)} do not match targets {tuple(tgt_out.shape)}")
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]),
        tgt_out.reshape(-1),
        ignore_index=pad_id,
        label_smoothing=label_smoothing,
    )


def train_seq2seq(
    model: Seq2Seq,
    sources: Sequence[torch.Tensor],
    targets: Sequence[Sequence[int]],
    steps: int = 500,
    batch_size: int = 32,
    lr: float = 2e-3,
    label_smoothing: float = 0.1,
    seed: int = 0,
    progress: bool = True,
) -> list[float]:
    """Teacher-forced training on ``sources`` (``(source,)`` ids or ``(source, in_dim)`` frames each) and
    their target ids (without ``<bos>``/``<eos>``): AdamW, warm-up over a tenth of the steps then linear
    decay, batches drawn from shuffled epochs. Returns each step's loss; leaves the model in eval mode."""
    if len(sources) != len(targets) or not sources:
        raise ValueError(
            f"need as many sources as targets (at least one), got {len(sources)} and {len(targets)}"
        )
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be positive, got {steps} and {batch_size}")
    torch.manual_seed(seed)
    order = shuffled_batches(len(sources), batch_size, np.random.default_rng(seed))

    def batches():
        for batch in order:
            src, src_lengths = pad_sequences([sources[i] for i in batch])
            tgt_in, tgt_out = teacher_forcing_batch(
                [targets[i] for i in batch], model.bos_id, model.eos_id, model.pad_id
            )
            yield src, src_lengths, tgt_in, tgt_out

    def step_fn(model: Seq2Seq, batch) -> torch.Tensor:
        src, src_lengths, tgt_in, tgt_out = batch
        logits, _ = model(src, src_lengths, tgt_in)
        return seq2seq_loss(logits, tgt_out, model.pad_id, label_smoothing)

    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    history = fit(
        model,
        batches(),
        optimizer=opt,
        steps=steps,
        step_fn=step_fn,
        scheduler=scheduler(opt, steps, tenth(steps)),
        grad_clip=1.0,
        log_every=1,
        progress=progress,
        desc="training seq2seq",
    )
    model.eval()
    return history.train_loss


class Hypothesis(NamedTuple):
    """A decoded output: ``tokens`` (without ``<bos>``/``<eos>``), ``log_prob`` (nats, the sum over every
    generated token, ``<eos>`` included), ``score`` (``log_prob / length ** length_penalty``), and whether
    it ``finished`` with ``<eos>`` (else it stopped at ``max_len``)."""

    tokens: list[int]
    log_prob: float
    score: float
    finished: bool


def _check_decoding(src: torch.Tensor, src_lengths: torch.Tensor, max_len: int) -> None:
    if src.ndim < 2:
        raise ValueError(
            f"src must be batched, (batch, source) or (batch, source, in_dim), got {tuple(src.shape)}"
        )
    if max_len < 1:
        raise ValueError(f"max_len must be at least 1, got {max_len}")
    _source_mask(src_lengths, src.shape[1], src.shape[0])


@torch.no_grad()
def greedy_decode(
    model: Seq2Seq, src: torch.Tensor, src_lengths: torch.Tensor, max_len: int = 50
) -> list[Hypothesis]:
    """Arg-max decoding of a batch: at each step append the most probable token, until ``<eos>`` or
    ``max_len`` generated tokens (``<eos>`` included). One :class:`Hypothesis` per source."""
    _check_decoding(src, src_lengths, max_len)
    model.eval()
    memory, padding = model.encode(src, src_lengths)
    batch = memory.shape[0]
    tokens = torch.full((batch, 1), model.bos_id, dtype=torch.long)
    log_prob = torch.zeros(batch, dtype=torch.float64)
    done = torch.zeros(batch, dtype=torch.bool)
    for _ in range(max_len):
        logits, _ = model.decoder(tokens, memory, padding)
        step = logits[:, -1].log_softmax(-1)
        best = step.argmax(-1)
        log_prob += torch.where(done, 0.0, step.gather(1, best[:, None])[:, 0].double())
        tokens = torch.cat([tokens, torch.where(done, model.pad_id, best)[:, None]], dim=1)
        done |= best == model.eos_id
        if done.all():
            break
    out = []
    for row, lp in zip(tokens[:, 1:].tolist(), log_prob.tolist(), strict=True):
        finished = model.eos_id in row
        row = row[: row.index(model.eos_id)] if finished else row
        out.append(Hypothesis(row, lp, lp, finished))
    return out


@torch.no_grad()
def beam_search(
    model: Seq2Seq,
    src: torch.Tensor,
    src_lengths: torch.Tensor,
    beam_size: int = 4,
    max_len: int = 50,
    length_penalty: float = 0.0,
) -> list[Hypothesis]:
    """Beam search, one source at a time (Jurafsky and Martin, SLP3 ch. 13): keep the ``beam_size`` most
    probable prefixes; a prefix that emits ``<eos>`` is set aside and the beam narrows by one; stop when the
    beam is empty or ``max_len`` tokens are generated. Returns, per source, the set-aside (or unfinished)
    hypothesis with the highest ``log_prob / length ** length_penalty`` (0: no length normalisation).
    ``beam_size=1`` is :func:`greedy_decode`."""
    _check_decoding(src, src_lengths, max_len)
    if beam_size < 1:
        raise ValueError(f"beam_size must be at least 1, got {beam_size}")
    if length_penalty < 0:
        raise ValueError(f"length_penalty must be non-negative, got {length_penalty}")
    model.eval()
    memory, padding = model.encode(src, src_lengths)
    return [
        _beam_one(model, memory[i : i + 1], padding[i : i + 1], beam_size, max_len, length_penalty)
        for i in range(memory.shape[0])
    ]


def _beam_one(
    model: Seq2Seq, memory: torch.Tensor, padding: torch.Tensor, beam_size: int, max_len: int, alpha: float
) -> Hypothesis:
    prefixes = torch.full((1, 1), model.bos_id, dtype=torch.long)
    scores = torch.zeros(1, dtype=torch.float64)
    finished: list[Hypothesis] = []
    for t in range(1, max_len + 1):  # t: tokens generated after this step, <eos> included
        n = prefixes.shape[0]
        logits, _ = model.decoder(prefixes, memory.expand(n, -1, -1), padding.expand(n, -1))
        candidates = (scores[:, None] + logits[:, -1].log_softmax(-1).double()).flatten()
        top = candidates.topk(min(beam_size - len(finished), candidates.numel()))
        rows, words = top.indices // logits.shape[-1], top.indices % logits.shape[-1]
        keep = words != model.eos_id
        for row, value in zip(rows[~keep].tolist(), top.values[~keep].tolist(), strict=True):
            finished.append(Hypothesis(prefixes[row, 1:].tolist(), value, value / t**alpha, True))
        if not keep.any():
            break
        prefixes = torch.cat([prefixes[rows[keep]], words[keep][:, None]], dim=1)
        scores = top.values[keep]
    else:
        for row, value in zip(prefixes[:, 1:].tolist(), scores.tolist(), strict=True):
            finished.append(Hypothesis(row, value, value / max_len**alpha, False))
    return max(finished, key=lambda h: h.score)


def translate(
    model: Seq2Seq,
    sources: Sequence[torch.Tensor],
    tokenizer: CharTokenizer,
    beam_size: int = 1,
    max_len: int = 50,
    length_penalty: float = 0.0,
    batch_size: int = 64,
) -> list[str]:
    """Decode each source (``(source,)`` ids or ``(source, in_dim)`` frames) to text: greedy when
    ``beam_size == 1`` (batched), else :func:`beam_search`; ``tokenizer`` turns the ids back into text."""
    if not sources:
        raise ValueError("translate needs at least one source")
    texts: list[str] = []
    for start in range(0, len(sources), batch_size):
        src, src_lengths = pad_sequences(sources[start : start + batch_size])
        if beam_size == 1:
            hyps = greedy_decode(model, src, src_lengths, max_len)
        else:
            hyps = beam_search(model, src, src_lengths, beam_size, max_len, length_penalty)
        texts.extend(tokenizer.decode(h.tokens) for h in hyps)
    return texts


@torch.no_grad()
def speech_features(
    encoder: nn.Module,
    audios: Sequence[np.ndarray],
    sample_rate: int = SAMPLE_RATE,
    layer: int | None = None,
    batch_size: int = 16,
    progress: bool = True,
) -> list[torch.Tensor]:
    """Frames of a (frozen) :class:`~speechlm.ssl.SpeechEncoder` for each audio: ``(frames, d_model)`` at
    50 frames/s, the final output (``layer=None``) or ``EncoderOutput.layers[layer]`` (0 is the
    Transformer's input). The memory of end-to-end speech translation in notebook 16."""
    from speechlm.features import log_mel_features

    if not audios:
        raise ValueError("speech_features needs at least one audio")
    encoder.eval()
    out: list[torch.Tensor] = []
    for start in tqdm(range(0, len(audios), batch_size), desc="speech features", disable=not progress):
        mels, mel_lengths = pad_sequences(
            [log_mel_features(a, sample_rate) for a in audios[start : start + batch_size]]
        )
        enc = encoder(mels, mel_lengths)
        if layer is not None and not 0 <= layer < len(enc.layers):
            raise ValueError(f"layer must be in 0..{len(enc.layers) - 1} or None, got {layer}")
        frames = enc.hidden if layer is None else enc.layers[layer]
        out.extend(frames[i, :n].clone() for i, n in enumerate(enc.lengths.tolist()))
    return out


def _pairs(references: Sequence[str], hypotheses: Sequence[str]) -> tuple[list[str], list[str]]:
    refs, hyps = list(references), list(hypotheses)
    if len(refs) != len(hyps) or not refs:
        raise ValueError(
            f"need as many hypotheses as references (at least one), got {len(hyps)} and {len(refs)}"
        )
    return refs, hyps


def sentence_chrf(references: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
    """chrF (0-100) of each hypothesis against its reference (``sacrebleu.sentence_chrf``), for error
    analysis; the corpus-level score of :func:`translation_scores` is not their mean."""
    import sacrebleu

    refs, hyps = _pairs(references, hypotheses)
    return np.array([sacrebleu.sentence_chrf(h, [r]).score for r, h in zip(refs, hyps, strict=True)])


def translation_scores(references: Sequence[str], hypotheses: Sequence[str]) -> dict[str, float]:
    """Corpus-level ``{"chrf", "bleu"}`` (0-100) from ``sacrebleu``: chrF (character 6-grams, Popovic 2015)
    and BLEU with ``tokenize="zh"`` (each Chinese character a word)."""
    import sacrebleu

    refs, hyps = list(references), list(hypotheses)
    if len(refs) != len(hyps) or not refs:
        raise ValueError(
            f"need as many hypotheses as references (at least one), got {len(hyps)} and {len(refs)}"
        )
    return {
        "chrf": sacrebleu.corpus_chrf(hyps, [refs]).score,
        "bleu": sacrebleu.corpus_bleu(hyps, [refs], tokenize="zh").score,
    }
