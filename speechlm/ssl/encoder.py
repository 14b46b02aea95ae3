"""The speech encoder pretrained in notebook 11 and fine-tuned in notebook 12.

A scaled-down wav2vec 2.0 / HuBERT encoder on log-mel frames:

1. a convolutional front end: two 1-D convolutions (kernel 3), the second
   with stride 2, so 100 log-mel frames/s become 50 encoder frames/s;
2. a feature projection (LayerNorm, Linear, dropout): these are the frames
   that masking replaces with a learned mask embedding;
3. a convolutional relative position embedding (grouped convolution over
   time, added to the frames, as in wav2vec 2.0);
4. a pre-LN Transformer encoder (:class:`speechlm.transformer.EncoderBlock`
   of notebook 07).

``forward`` returns every layer's output, for layer-by-layer probes and for
HuBERT's iteration-2 targets, which cluster an intermediate layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from speechlm.batching import lengths_to_mask, pad_sequences
from speechlm.features import encoder_lengths
from speechlm.transformer import EncoderBlock

__all__ = ["EncoderConfig", "EncoderOutput", "SpeechEncoder", "encode_utterances", "run_encoder"]


@dataclass(frozen=True)
class EncoderConfig:
    """Sizes of :class:`SpeechEncoder` (defaults: about 1.1 M parameters), in the course's one
    vocabulary (as :class:`~speechlm.gpt.GPTConfig` and :class:`~speechlm.bert.BertConfig`):
    Hugging Face's ``HubertConfig`` calls ``d_model``, ``num_layers``, ``num_heads`` and ``d_ff``
    ``hidden_size``, ``num_hidden_layers``, ``num_attention_heads`` and ``intermediate_size``, and
    ``pos_conv_kernel``, ``pos_conv_groups`` ``num_conv_pos_embeddings``,
    ``num_conv_pos_embedding_groups``."""

    n_mels: int = 80  # input log-mel bands
    d_model: int = 144  # width of every frame after the front end
    num_layers: int = 4  # Transformer blocks
    num_heads: int = 4
    d_ff: int = 576  # feed-forward width (4 x d_model)
    dropout: float = 0.1
    pos_conv_kernel: int = 31  # frames seen by the position embedding (0.62 s at 50 frames/s)
    pos_conv_groups: int = 8

    def to_dict(self) -> dict:
        return asdict(self)


class EncoderOutput(NamedTuple):
    """``hidden (batch, frames, d_model)``: the final output (after the last LayerNorm);
    ``layers``: ``num_layers + 1`` tensors ``(batch, frames, d_model)``, the Transformer's input
    (index 0) and each block's output; ``lengths (batch,)``: valid frames; ``padding_mask
    (batch, frames)``: True at padding."""

    hidden: torch.Tensor
    layers: list[torch.Tensor]
    lengths: torch.Tensor
    padding_mask: torch.Tensor


class SpeechEncoder(nn.Module):
    """Log-mel frames ``(batch, mel_frames, n_mels)`` at 100/s to ``(batch, frames, d_model)`` at 50/s."""

    def __init__(self, config: EncoderConfig | None = None):
        super().__init__()
        self.config = config = config or EncoderConfig()
        d = config.d_model
        self.conv1 = nn.Conv1d(config.n_mels, d, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(d, d, kernel_size=3, stride=2, padding=1)
        self.projection = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, d), nn.Dropout(config.dropout))
        self.mask_embedding = nn.Parameter(torch.empty(d).uniform_())
        self.pos_conv = nn.Conv1d(
            d, d, config.pos_conv_kernel, padding=config.pos_conv_kernel // 2, groups=config.pos_conv_groups
        )
        self.layers = nn.ModuleList(
            EncoderBlock(d, config.num_heads, config.d_ff, config.dropout, activation="gelu")
            for _ in range(config.num_layers)
        )
        self.final_norm = nn.LayerNorm(d)
        # True: training keeps only each block's input and recomputes the block's activations during
        # backward (activation checkpointing; the dropout masks are replayed, so the gradients are
        # the same to the bit). Set where memory is short: see :func:`speechlm.ssl.pretrain.pretrain_hubert`.
        self.checkpoint_blocks = False

    def frontend(self, mels: torch.Tensor, mel_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Convolutions and projection: ``(batch, mel_frames, n_mels)`` to ``(batch, frames, d_model)``
        and the frame lengths. Padded frames are zeroed."""
        if mels.ndim != 3 or mels.shape[-1] != self.config.n_mels:
            raise ValueError(
                f"expected log-mel frames (batch, time, {self.config.n_mels}), got shape {tuple(mels.shape)}"
            )
        mel_mask = lengths_to_mask(mel_lengths.to(mels.device), mels.shape[1])
        x = (mels * mel_mask[..., None]).transpose(1, 2)
        # zero the padding after conv1 too, so that an utterance encodes the same alone or in a batch
        x = F.gelu(self.conv1(x)) * mel_mask[:, None, :]
        x = F.gelu(self.conv2(x)).transpose(1, 2)
        lengths = encoder_lengths(mel_lengths).to(mels.device)
        x = self.projection(x) * lengths_to_mask(lengths, x.shape[1])[..., None]
        return x, lengths

    def apply_mask(self, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Replace the frames where ``mask (batch, frames)`` is True by the learned mask embedding."""
        return torch.where(mask[..., None], self.mask_embedding.to(frames.dtype), frames)

    def transformer(self, frames: torch.Tensor, lengths: torch.Tensor) -> EncoderOutput:
        """Position embedding and Transformer blocks on projected ``frames (batch, frames, d_model)``."""
        padding_mask = ~lengths_to_mask(lengths, frames.shape[1])
        x = frames.masked_fill(padding_mask[..., None], 0.0)
        x = x + F.gelu(self.pos_conv(x.transpose(1, 2))).transpose(1, 2)
        layers = [x]
        recompute = self.checkpoint_blocks and self.training and torch.is_grad_enabled()
        for block in self.layers:
            if recompute:
                x, _ = checkpoint(block, x, key_padding_mask=padding_mask, use_reentrant=False)
            else:
                x, _ = block(x, key_padding_mask=padding_mask)
            layers.append(x)
        return EncoderOutput(self.final_norm(x), layers, lengths, padding_mask)

    def forward(
        self, mels: torch.Tensor, mel_lengths: torch.Tensor, mask: torch.Tensor | None = None
    ) -> EncoderOutput:
        """Encode ``mels (batch, mel_frames, n_mels)`` with ``mel_lengths (batch,)``; ``mask (batch,
        frames)`` (optional, True where the frame is masked) applies the mask embedding first."""
        frames, lengths = self.frontend(mels, torch.as_tensor(mel_lengths))
        if mask is not None:
            frames = self.apply_mask(frames, mask)
        return self.transformer(frames, lengths)


def run_encoder(
    encoder: SpeechEncoder, mels: torch.Tensor, lengths: torch.Tensor, frozen: bool
) -> EncoderOutput:
    """``encoder(mels, lengths)`` under a task head: while ``frozen`` (the first steps of fine-tuning,
    when only the new head learns) in eval mode and without gradients."""
    if not frozen:
        return encoder(mels, lengths)
    encoder.eval()
    with torch.no_grad():
        return encoder(mels, lengths)


@torch.no_grad()
def encode_utterances(
    encoder: SpeechEncoder,
    mels: Sequence[torch.Tensor],
    *,
    layer: int | str = "all",
    batch_size: int = 32,
    by_length: bool = False,
    mean_pool: bool = False,
    progress: bool = False,
    desc: str = "encoding",
) -> list[torch.Tensor]:
    """Run a frozen ``encoder`` over utterances, one padded batch at a time, and keep each one's frames.

    The course's one way from log-mels to an encoder's features (k-means targets and probes, the
    spoken-understanding classifiers, translation, interpretability). ``mels``: ``(mel_frames,
    n_mels)`` tensors (:func:`speechlm.features.log_mel_features`). Per utterance, its real frames at
    50 frames/s (float32, on the CPU, copied out of the padded batch so that the batch is freed):
    ``layer="all"``: every layer of :attr:`EncoderOutput.layers`, ``(frames, num_layers + 1,
    d_model)``; an int: that layer, ``(frames, d_model)`` (0: the Transformer's input);
    ``"final"``: the final output :attr:`EncoderOutput.hidden` (after the last LayerNorm).
    ``mean_pool``: each utterance's mean over its frames instead, with a frame axis of 1.
    ``by_length``: batch utterances of similar length together (less padding; the results come
    back in the order of ``mels``). Eval mode (the encoder's mode is restored); where memory is
    short (Binder) the C heap is handed back after every batch.
    """
    from tqdm.auto import tqdm

    from speechlm import workers

    if len(mels) == 0:
        raise ValueError("no utterances to encode: mels is empty")
    num_layers = len(encoder.layers)
    if not (layer in ("all", "final") or (isinstance(layer, int) and 0 <= layer <= num_layers)):
        raise ValueError(f"layer must be 'all', 'final' or in [0, {num_layers}], got {layer!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    was_training = encoder.training
    encoder.eval()
    device = next(encoder.parameters()).device
    order = sorted(range(len(mels)), key=lambda i: len(mels[i])) if by_length else list(range(len(mels)))
    result: list[torch.Tensor | None] = [None] * len(mels)
    trim = workers.memory_is_short()
    for start in tqdm(range(0, len(mels), batch_size), desc=desc, disable=not progress, mininterval=1.0):
        index = order[start : start + batch_size]
        padded, lengths = pad_sequences([mels[i] for i in index])
        out = encoder(padded.to(device), lengths)
        if layer == "all":
            frames = torch.stack(out.layers, dim=2).cpu()  # (batch, frames, layers, d_model)
        else:
            frames = (out.hidden if layer == "final" else out.layers[layer]).cpu()
        for i, hidden, n in zip(index, frames, out.lengths.tolist(), strict=True):
            result[i] = hidden[:n].mean(0, keepdim=True) if mean_pool else hidden[:n].clone()
        del out, frames, padded
        if trim:
            workers.release_free_memory()
    encoder.train(was_training)
    return result  # type: ignore[return-value]
