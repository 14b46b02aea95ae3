"""GPT from scratch: a causal Transformer language model (notebook 09; reused in 13).

* :class:`GPT`: learned token and position embeddings, pre-LN blocks
  (``x + Attn(LN(x))``, then ``x + MLP(LN(x))`` with GPT-2's tanh-approximated
  GELU), a final LayerNorm and an output layer tied to the token embeddings.
  ``forward(ids, cache=None)``: with a :class:`KVCache` the keys and values of
  earlier tokens are reused instead of recomputed, and the logits are the same.
* :func:`lm_loss`, :func:`train_lm`, :func:`perplexity`: next-token
  cross-entropy, a short training loop on random windows of a token stream, and
  ``exp`` of the mean negative log-likelihood per predicted token.
* :func:`generate` with greedy, temperature, top-k (:func:`top_k_filter`) and
  top-p / nucleus (:func:`top_p_filter`) sampling.
* :func:`to_hf` / :func:`from_hf`: weight conversion to and from
  ``transformers.GPT2LMHeadModel`` (whose ``Conv1D`` stores weights as
  ``(in, out)``, the transpose of ``nn.Linear``); the same weights give the same logits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from speechlm.optim import scheduler, tenth
from speechlm.train import fit

__all__ = [
    "GPT",
    "GPTConfig",
    "KVCache",
    "from_hf",
    "generate",
    "lm_loss",
    "perplexity",
    "to_hf",
    "top_k_filter",
    "top_p_filter",
    "train_lm",
]


@dataclass
class GPTConfig:
    """Sizes of a GPT: ``context`` is the longest input in tokens, ``width``
    the model dimension (a multiple of ``heads``), ``ff`` the MLP width
    (default ``4 * width``)."""

    vocab_size: int
    context: int = 64
    width: int = 128
    layers: int = 2
    heads: int = 4
    ff: int | None = None
    dropout: float = 0.0
    layer_norm_eps: float = 1e-5
    init_std: float = 0.02

    def __post_init__(self):
        if self.width % self.heads:
            raise ValueError(f"width ({self.width}) must be a multiple of heads ({self.heads})")
        if self.ff is None:
            self.ff = 4 * self.width


class KVCache:
    """Keys and values of the tokens seen so far, one ``(batch, heads, time, head_dim)`` pair per layer."""

    def __init__(self):
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []

    def __len__(self) -> int:
        """Number of cached time steps."""
        return self.keys[0].shape[2] if self.keys else 0

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append this step's ``k``, ``v`` to layer ``layer``'s cache; return all keys and values."""
        if layer == len(self.keys):
            self.keys.append(k)
            self.values.append(v)
        else:
            self.keys[layer] = torch.cat([self.keys[layer], k], dim=2)
            self.values[layer] = torch.cat([self.values[layer], v], dim=2)
        return self.keys[layer], self.values[layer]


class Block(nn.Module):
    """A pre-LN decoder block: ``x = x + Attn(LN(x))``, ``x = x + MLP(LN(x))``."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.heads = cfg.heads
        self.dropout_p = cfg.dropout
        self.ln_1 = nn.LayerNorm(cfg.width, eps=cfg.layer_norm_eps)
        self.qkv = nn.Linear(cfg.width, 3 * cfg.width)
        self.attn_proj = nn.Linear(cfg.width, cfg.width)
        self.ln_2 = nn.LayerNorm(cfg.width, eps=cfg.layer_norm_eps)
        self.fc = nn.Linear(cfg.width, cfg.ff)
        self.fc_proj = nn.Linear(cfg.ff, cfg.width)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, cache: KVCache | None, layer: int, past: int) -> torch.Tensor:
        """``x`` ``(batch, time, width)``: the newest ``time`` tokens, after ``past`` cached ones."""
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln_1(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        if cache is not None:
            k, v = cache.update(layer, k, v)
        drop = self.dropout_p if self.training else 0.0
        if past == 0:
            a = F.scaled_dot_product_attention(q, k, v, dropout_p=drop, is_causal=t > 1)
        else:  # query i sits at position past + i and sees keys 0..past + i
            mask = torch.ones(t, past + t, dtype=torch.bool, device=x.device).tril(diagonal=past)
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop)
        x = x + self.dropout(self.attn_proj(a.transpose(1, 2).reshape(b, t, d)))
        return x + self.dropout(self.fc_proj(F.gelu(self.fc(self.ln_2(x)), approximate="tanh")))


class GPT(nn.Module):
    """A GPT-2-style causal language model (notebook 09).

    ``forward(ids, cache=None)`` maps ``(batch, time)`` token ids to logits
    ``(batch, time, vocab)``: position ``i`` predicts token ``i + 1``. Pass a
    :class:`KVCache` to continue a sequence one chunk at a time.
    """

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.width)
        self.wpe = nn.Embedding(cfg.context, cfg.width)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.ln_f = nn.LayerNorm(cfg.width, eps=cfg.layer_norm_eps)
        for name, p in self.named_parameters():  # GPT-2's initialisation
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif p.dim() == 2:
                residual = name.endswith(("attn_proj.weight", "fc_proj.weight"))
                nn.init.normal_(p, std=cfg.init_std / (math.sqrt(2 * cfg.layers) if residual else 1.0))

    def forward(self, ids: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        if ids.dim() != 2:
            raise ValueError(f"expected token ids of shape (batch, time), got {tuple(ids.shape)}")
        past = len(cache) if cache is not None else 0
        if past + ids.shape[1] > self.cfg.context:
            raise ValueError(
                f"{past} cached + {ids.shape[1]} new tokens exceed the context of {self.cfg.context}: "
                "crop the input to its last `context` tokens"
            )
        pos = torch.arange(past, past + ids.shape[1], device=ids.device)
        x = self.drop(self.wte(ids) + self.wpe(pos))
        for layer, block in enumerate(self.blocks):
            x = block(x, cache, layer, past)
        return F.linear(self.ln_f(x), self.wte.weight)  # tied output layer


def lm_loss(logits: torch.Tensor, ids: torch.Tensor, pad_id: int | None = None) -> torch.Tensor:
    """Mean next-token cross-entropy (nats): logits ``(batch, time, vocab)`` at
    position ``i`` are scored against ``ids[:, i + 1]``; targets equal to
    ``pad_id`` are ignored."""
    targets = ids[:, 1:]
    if pad_id is not None:
        targets = targets.masked_fill(targets == pad_id, -100)
    return F.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100
    )


def train_lm(
    model: GPT,
    stream: torch.Tensor,
    steps: int = 300,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    progress: bool = True,
) -> list[float]:
    """Train on random windows of ``context`` tokens of ``stream`` (1-D, texts
    joined by an end-of-text token) with :func:`speechlm.train.fit`: AdamW,
    warm-up over a tenth of the steps then linear decay, gradients clipped at 1.
    Returns the loss of every step; leaves the model in eval mode."""
    n = model.cfg.context
    if stream.dim() != 1 or len(stream) <= n:
        raise ValueError(
            f"expected a 1-D token stream longer than the context ({n}), got {tuple(stream.shape)}"
        )
    gen = torch.Generator().manual_seed(seed)
    offsets = torch.arange(n)

    def windows():
        while True:
            yield stream[torch.randint(len(stream) - n + 1, (batch_size, 1), generator=gen) + offsets]

    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    history = fit(
        model,
        windows(),
        optimizer=opt,
        steps=steps,
        step_fn=lambda m, batch: lm_loss(m(batch), batch),
        scheduler=scheduler(opt, steps, tenth(steps)),
        grad_clip=1.0,
        log_every=1,
        progress=progress,
        desc="training the GPT",
    )
    model.eval()
    return history.train_loss


@torch.no_grad()
def perplexity(model: GPT, sequences: Sequence[Sequence[int]], batch_size: int = 256) -> float:
    """``exp`` of the mean negative log-likelihood of every token but the first
    of each sequence (the first is the start token it is conditioned on)."""
    seqs = [list(s) for s in sequences]
    if not seqs or min(len(s) for s in seqs) < 2:
        raise ValueError("perplexity needs sequences of at least two tokens (a start token and one more)")
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(seqs), batch_size):
        chunk = seqs[i : i + batch_size]
        longest = max(len(s) for s in chunk)
        ids = torch.zeros(len(chunk), longest, dtype=torch.long)
        targets = torch.full((len(chunk), longest - 1), -100, dtype=torch.long)
        for j, s in enumerate(chunk):
            ids[j, : len(s)] = torch.tensor(s)
            targets[j, : len(s) - 1] = torch.tensor(s[1:])
        logits = model(ids)[:, :-1]
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="sum")
        total += float(nll)
        count += int((targets != -100).sum())
    return math.exp(total / count)


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` largest logits of each row, set the rest to ``-inf``."""
    if k < 1:
        raise ValueError(f"top_k must be at least 1, got {k}")
    k = min(k, logits.shape[-1])
    kth = logits.topk(k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filtering: keep the most probable tokens whose probabilities add
    up to at least ``p`` (always at least one), set the rest to ``-inf``."""
    if not 0.0 < p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {p}")
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs
    remove_sorted = mass_before >= p
    remove_sorted[..., 0] = False
    remove = remove_sorted.scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))


@torch.no_grad()
def generate(
    model: GPT,
    prompt: torch.Tensor | Sequence[int],
    max_new_tokens: int,
    greedy: bool = False,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    use_cache: bool = True,
    eos_id: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Continue ``prompt`` (``(time,)`` or ``(batch, time)`` ids) by up to ``max_new_tokens`` tokens.

    ``greedy`` takes the arg-max; otherwise logits are divided by
    ``temperature``, filtered by ``top_k`` then ``top_p``, and sampled.
    ``use_cache=False`` recomputes the whole sequence at every step (the
    result is the same, only slower). Stops early once every row has produced
    ``eos_id``. Returns ``(batch, time + new)`` ids (``(time + new,)`` for a 1-D prompt).
    """
    ids = torch.as_tensor(prompt, dtype=torch.long)
    squeeze = ids.dim() == 1
    ids = ids[None] if squeeze else ids
    if ids.dim() != 2 or ids.shape[1] == 0:
        raise ValueError(
            f"expected a non-empty prompt of shape (time,) or (batch, time), got {tuple(ids.shape)}"
        )
    if ids.shape[1] + max_new_tokens > model.cfg.context:
        raise ValueError(
            f"prompt ({ids.shape[1]}) + max_new_tokens ({max_new_tokens}) tokens exceed "
            f"the context ({model.cfg.context})"
        )
    if temperature <= 0:
        raise ValueError(f"temperature must be positive (use greedy=True for arg-max), got {temperature}")
    model.eval()
    cache = KVCache() if use_cache else None
    done = torch.zeros(ids.shape[0], dtype=torch.bool)
    step_input = ids
    for _ in range(max_new_tokens):
        logits = model(step_input if use_cache else ids, cache)[:, -1]
        if greedy:
            nxt = logits.argmax(-1)
        else:
            logits = logits / temperature
            if top_k is not None:
                logits = top_k_filter(logits, top_k)
            if top_p is not None:
                logits = top_p_filter(logits, top_p)
            nxt = torch.multinomial(logits.softmax(-1), 1, generator=generator)[:, 0]
        ids = torch.cat([ids, nxt[:, None]], dim=1)
        step_input = nxt[:, None]
        if eos_id is not None:
            done |= nxt == eos_id
            if done.all():
                break
    return ids[0] if squeeze else ids


def _hf_config(cfg: GPTConfig):
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=cfg.vocab_size,
        n_positions=cfg.context,
        n_embd=cfg.width,
        n_layer=cfg.layers,
        n_head=cfg.heads,
        n_inner=cfg.ff,
        activation_function="gelu_new",
        resid_pdrop=cfg.dropout,
        embd_pdrop=cfg.dropout,
        attn_pdrop=cfg.dropout,
        layer_norm_epsilon=cfg.layer_norm_eps,
        initializer_range=cfg.init_std,
        bos_token_id=None,
        eos_token_id=None,
    )


def _names(cfg: GPTConfig) -> list[tuple[str, str, bool]]:
    """(our name, Hugging Face name, transposed?) for every tensor; Conv1D weights are transposed."""
    names = [("wte.weight", "transformer.wte.weight", False), ("wpe.weight", "transformer.wpe.weight", False)]
    names += [(f"ln_f.{p}", f"transformer.ln_f.{p}", False) for p in ("weight", "bias")]
    for i in range(cfg.layers):
        ours, theirs = f"blocks.{i}.", f"transformer.h.{i}."
        for a, b in (
            ("qkv", "attn.c_attn"),
            ("attn_proj", "attn.c_proj"),
            ("fc", "mlp.c_fc"),
            ("fc_proj", "mlp.c_proj"),
        ):
            names += [
                (ours + a + ".weight", theirs + b + ".weight", True),
                (ours + a + ".bias", theirs + b + ".bias", False),
            ]
        for ln in ("ln_1", "ln_2"):
            names += [(ours + f"{ln}.{p}", theirs + f"{ln}.{p}", False) for p in ("weight", "bias")]
    return names


def to_hf(model: GPT, attn_implementation: str = "eager"):
    """A ``transformers.GPT2LMHeadModel`` with ``model``'s weights (built from a config, no download)."""
    from transformers import GPT2LMHeadModel

    hf = GPT2LMHeadModel(_hf_config(model.cfg))
    hf.set_attn_implementation(attn_implementation)
    ours, theirs = model.state_dict(), hf.state_dict()
    with torch.no_grad():
        for a, b, transposed in _names(model.cfg):
            theirs[b].copy_(ours[a].t() if transposed else ours[a])
    hf.load_state_dict(theirs)
    hf.tie_weights()
    return hf.train(model.training)


def from_hf(hf) -> GPT:
    """Our :class:`GPT` with the weights of a ``transformers.GPT2LMHeadModel``."""
    c = hf.config
    if c.activation_function not in ("gelu_new", "gelu_pytorch_tanh"):
        raise ValueError(
            f"only GPT-2's tanh GELU ('gelu_new') can be converted, got {c.activation_function!r}"
        )
    if c.scale_attn_by_inverse_layer_idx or not c.scale_attn_weights:
        raise ValueError("only the standard 1/sqrt(head_dim) attention scaling can be converted")
    cfg = GPTConfig(
        vocab_size=c.vocab_size,
        context=c.n_positions,
        width=c.n_embd,
        layers=c.n_layer,
        heads=c.n_head,
        ff=c.n_inner or 4 * c.n_embd,
        dropout=c.resid_pdrop,
        layer_norm_eps=c.layer_norm_epsilon,
        init_std=c.initializer_range,
    )
    model = GPT(cfg)
    theirs = hf.state_dict()
    model.load_state_dict({a: theirs[b].t() if t else theirs[b] for a, b, t in _names(cfg)})
    return model.train(hf.training)
