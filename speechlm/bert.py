"""BERT from scratch: masking, next-sentence pairs, the model, its loss (notebook 08).

* :func:`mask_tokens`: BERT's masked-LM corruption. In each sequence 15% of
  the ordinary tokens (never ``[CLS]``, ``[SEP]``, ``[PAD]``) are chosen; of
  those 80% become ``[MASK]``, 10% a random ordinary token, 10% stay as they
  are; labels are the original ids there and ``-100`` everywhere else.
* :func:`nsp_pairs`: next-sentence pairs, half true continuations from the same
  scene (label 0, ``IsNext``), half a sentence of another scene (label 1,
  ``NotNext``), the label convention of ``transformers.BertForPreTraining``.
* :class:`Bert`: embeddings (word + position + token type, LayerNorm), a
  post-LN Transformer encoder as in the BERT paper, the pooler (tanh of a
  dense layer on ``[CLS]``), the MLM head tied to the word embeddings and the
  NSP head on the pooled ``[CLS]``.
* :func:`pretraining_loss`: MLM cross-entropy over the chosen positions plus
  NSP cross-entropy, exactly what ``BertForPreTraining(..., labels=...,
  next_sentence_label=...)`` returns as ``loss``.
* :func:`to_hf` / :func:`from_hf`: weight conversion to and from
  ``transformers.BertForPreTraining``; the same weights give the same logits.
* :func:`pretraining_batch`, :func:`pretrain`, :func:`evaluate_pretraining`:
  batches of (optionally paired) sentences with Hugging Face's input names,
  a short pretraining loop and held-out MLM / NSP accuracy.
* :class:`BertClassifier`, :func:`finetune`, :func:`classify`: a
  sequence classifier on the pooled ``[CLS]`` (as
  ``BertForSequenceClassification``) and its fine-tuning loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "Bert",
    "BertClassifier",
    "BertConfig",
    "BertOutput",
    "classify",
    "evaluate_pretraining",
    "fill_mask",
    "finetune",
    "from_hf",
    "mask_tokens",
    "mlm_accuracy",
    "nsp_pairs",
    "pretrain",
    "pretraining_batch",
    "pretraining_examples",
    "pretraining_loss",
    "to_hf",
]


@dataclass
class BertConfig:
    """Sizes of a BERT (defaults: a tiny one that pretrains in a minute on a CPU).

    ``hidden`` is the model width, ``heads`` must divide it, ``intermediate``
    is the feed-forward width, ``max_len`` the longest input in tokens,
    ``type_vocab`` the number of segments (2: sentence A and B).
    """

    vocab_size: int
    hidden: int = 128
    layers: int = 2
    heads: int = 4
    intermediate: int = 512
    max_len: int = 64
    type_vocab: int = 2
    dropout: float = 0.1
    attention_dropout: float = 0.1
    layer_norm_eps: float = 1e-12
    pad_id: int = 0
    init_std: float = 0.02

    def __post_init__(self):
        if self.hidden % self.heads:
            raise ValueError(f"hidden ({self.hidden}) must be a multiple of heads ({self.heads})")
        if self.vocab_size < 1 or self.layers < 1:
            raise ValueError(f"vocab_size and layers must be positive, got {self.vocab_size}, {self.layers}")


class BertOutput(NamedTuple):
    """What :class:`Bert` returns: ``mlm_logits`` ``(batch, time, vocab)``,
    ``nsp_logits`` ``(batch, 2)``, ``hidden`` ``(batch, time, hidden)``, ``pooled`` ``(batch, hidden)``."""

    mlm_logits: torch.Tensor
    nsp_logits: torch.Tensor
    hidden: torch.Tensor
    pooled: torch.Tensor


class EncoderLayer(nn.Module):
    """A post-LN encoder layer: ``x = LN(x + Attn(x))``, then ``x = LN(x + FFN(x))``."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.heads = cfg.heads
        self.attention_dropout = cfg.attention_dropout
        self.qkv = nn.Linear(cfg.hidden, 3 * cfg.hidden)
        self.attn_out = nn.Linear(cfg.hidden, cfg.hidden)
        self.attn_norm = nn.LayerNorm(cfg.hidden, eps=cfg.layer_norm_eps)
        self.ff_in = nn.Linear(cfg.hidden, cfg.intermediate)
        self.ff_out = nn.Linear(cfg.intermediate, cfg.hidden)
        self.ff_norm = nn.LayerNorm(cfg.hidden, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
        """``x`` ``(batch, time, hidden)``; ``key_mask`` ``(batch, 1, 1, time)``, True at visible keys."""
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(
            q, k, v, attn_mask=key_mask, dropout_p=self.attention_dropout if self.training else 0.0
        )
        a = a.transpose(1, 2).reshape(b, t, d)
        x = self.attn_norm(x + self.dropout(self.attn_out(a)))
        h = self.ff_out(F.gelu(self.ff_in(x)))
        return self.ff_norm(x + self.dropout(h))


class Bert(nn.Module):
    """BERT with its two pretraining heads (notebook 08).

    ``forward(input_ids, token_type_ids=None, attention_mask=None)`` takes
    ``(batch, time)`` integer tensors (token types default to 0, the mask to
    "everything but ``[PAD]``") and returns a :class:`BertOutput`.
    """

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.cfg = cfg
        self.word_emb = nn.Embedding(cfg.vocab_size, cfg.hidden, padding_idx=cfg.pad_id)
        self.pos_emb = nn.Embedding(cfg.max_len, cfg.hidden)
        self.type_emb = nn.Embedding(cfg.type_vocab, cfg.hidden)
        self.emb_norm = nn.LayerNorm(cfg.hidden, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.dropout)
        self.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.layers))
        self.pooler = nn.Linear(cfg.hidden, cfg.hidden)
        self.mlm_dense = nn.Linear(cfg.hidden, cfg.hidden)
        self.mlm_norm = nn.LayerNorm(cfg.hidden, eps=cfg.layer_norm_eps)
        self.mlm_bias = nn.Parameter(torch.zeros(cfg.vocab_size))
        self.nsp = nn.Linear(cfg.hidden, 2)
        self.apply(self._init)

    def _init(self, module: nn.Module) -> None:
        """BERT's initialisation: normal(0, 0.02) weights, zero biases, unit LayerNorms."""
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, std=self.cfg.init_std)
        if isinstance(module, nn.Linear):
            nn.init.zeros_(module.bias)
        if isinstance(module, nn.Embedding) and module.padding_idx is not None:
            nn.init.zeros_(module.weight[module.padding_idx])

    def encode(
        self,
        input_ids: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The encoder's last hidden states ``(batch, time, hidden)``."""
        if input_ids.dim() != 2:
            raise ValueError(f"expected input_ids of shape (batch, time), got {tuple(input_ids.shape)}")
        t = input_ids.shape[1]
        if t > self.cfg.max_len:
            raise ValueError(f"input of {t} tokens is longer than max_len={self.cfg.max_len}: truncate it")
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        if attention_mask is None:
            attention_mask = input_ids != self.cfg.pad_id
        pos = torch.arange(t, device=input_ids.device)
        x = self.word_emb(input_ids) + self.type_emb(token_type_ids) + self.pos_emb(pos)
        x = self.dropout(self.emb_norm(x))
        key_mask = attention_mask.bool()[:, None, None, :]
        for layer in self.layers:
            x = layer(x, key_mask)
        return x

    def forward(
        self,
        input_ids: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        mlm_mask: torch.Tensor | None = None,
    ) -> BertOutput:
        """Both heads. With ``mlm_mask`` ``(batch, time)`` (True at the chosen
        positions), the MLM head runs only there and ``mlm_logits`` is
        ``(n_chosen, vocab)``: the same numbers, several times cheaper in pretraining."""
        hidden = self.encode(input_ids, token_type_ids, attention_mask)
        pooled = torch.tanh(self.pooler(hidden[:, 0]))
        h = hidden if mlm_mask is None else hidden[mlm_mask]
        h = self.mlm_norm(F.gelu(self.mlm_dense(h)))
        mlm_logits = F.linear(h, self.word_emb.weight, self.mlm_bias)  # tied to the input embeddings
        return BertOutput(mlm_logits, self.nsp(pooled), hidden, pooled)


def pretraining_loss(
    out: BertOutput, mlm_labels: torch.Tensor, nsp_labels: torch.Tensor | None = None
) -> torch.Tensor:
    """BERT's pretraining loss: mean MLM cross-entropy over positions whose
    label is not ``-100``, plus (unless ``nsp_labels`` is None, the "no NSP"
    ablation) the NSP cross-entropy over pairs whose label is not ``-100``.
    ``mlm_labels`` has ``out.mlm_logits``' shape without the vocabulary axis,
    ``nsp_labels`` is ``(batch,)`` with 0 = IsNext, 1 = NotNext."""
    vocab = out.mlm_logits.shape[-1]
    loss = F.cross_entropy(out.mlm_logits.reshape(-1, vocab), mlm_labels.reshape(-1), ignore_index=-100)
    if nsp_labels is not None:
        loss = loss + F.cross_entropy(out.nsp_logits, nsp_labels)
    return loss


def mask_tokens(
    input_ids: torch.Tensor,
    special_mask: torch.Tensor,
    mask_id: int,
    random_ids: torch.Tensor,
    mlm_prob: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking rule (notebook 08).

    ``input_ids`` ``(batch, time)``; ``special_mask`` ``(batch, time)`` True
    (or 1) at ``[CLS]``, ``[SEP]`` and ``[PAD]``, which are never chosen;
    ``random_ids`` the ids a "random token" is drawn from (the ordinary
    tokens). In each row ``max(1, round(mlm_prob * n))`` of the ``n``
    ordinary tokens are chosen uniformly, as in BERT's
    ``create_pretraining_data.py``; each chosen token becomes ``mask_id`` with
    probability 0.8, a uniformly drawn id of ``random_ids`` with 0.1, and stays
    with 0.1. Returns ``(corrupted_ids, labels)``: labels are the original ids
    at chosen positions and -100 elsewhere. ``input_ids`` is not modified.
    """
    if input_ids.shape != special_mask.shape or input_ids.dim() != 2:
        raise ValueError(
            f"expected input_ids and special_mask of the same shape (batch, time), "
            f"got {tuple(input_ids.shape)} and {tuple(special_mask.shape)}"
        )
    if not 0.0 < mlm_prob < 1.0:
        raise ValueError(f"mlm_prob must be in (0, 1), got {mlm_prob}")
    device = input_ids.device
    candidate = ~special_mask.bool()
    n_chosen = (candidate.sum(1).float() * mlm_prob).round().clamp(min=1).long()
    n_chosen = torch.minimum(n_chosen, candidate.sum(1))
    keys = torch.rand(input_ids.shape, generator=generator, device=device)
    keys = keys.masked_fill(~candidate, 2.0)  # non-candidates sort last
    rank = keys.argsort(dim=1).argsort(dim=1)
    chosen = rank < n_chosen[:, None]
    labels = input_ids.masked_fill(~chosen, -100)
    u = torch.rand(input_ids.shape, generator=generator, device=device)
    to_mask = chosen & (u < 0.8)
    to_random = chosen & (u >= 0.8) & (u < 0.9)
    draws = torch.randint(len(random_ids), input_ids.shape, generator=generator, device=device)
    corrupted = torch.where(to_random, random_ids.to(device)[draws], input_ids)
    corrupted = corrupted.masked_fill(to_mask, mask_id)
    return corrupted, labels


def nsp_pairs(scenes: list[list[str]], n: int, generator: torch.Generator | None = None):
    """``n`` next-sentence-prediction pairs ``(sentence_a, sentence_b, label)`` (notebook 08).

    ``scenes`` are lists of consecutive sentences. Sentence A is a random
    sentence that has a successor in its scene; with probability 1/2 sentence
    B is that successor (label 0, IsNext), otherwise a random sentence of a
    different scene (label 1, NotNext).
    """
    starts = [(s, i) for s, scene in enumerate(scenes) for i in range(len(scene) - 1)]
    if not starts or len(scenes) < 2:
        raise ValueError("nsp_pairs needs at least two scenes and one scene with two or more sentences")
    pairs = []
    for _ in range(n):
        s, i = starts[int(torch.randint(len(starts), (1,), generator=generator))]
        if float(torch.rand((), generator=generator)) < 0.5:
            pairs.append((scenes[s][i], scenes[s][i + 1], 0))
            continue
        other = int(torch.randint(len(scenes) - 1, (1,), generator=generator))
        other += other >= s  # any scene but s
        j = int(torch.randint(len(scenes[other]), (1,), generator=generator))
        pairs.append((scenes[s][i], scenes[other][j], 1))
    return pairs


def _hf_config(cfg: BertConfig):
    from transformers import BertConfig as HFBertConfig

    return HFBertConfig(
        vocab_size=cfg.vocab_size,
        hidden_size=cfg.hidden,
        num_hidden_layers=cfg.layers,
        num_attention_heads=cfg.heads,
        intermediate_size=cfg.intermediate,
        hidden_act="gelu",
        hidden_dropout_prob=cfg.dropout,
        attention_probs_dropout_prob=cfg.attention_dropout,
        max_position_embeddings=cfg.max_len,
        type_vocab_size=cfg.type_vocab,
        initializer_range=cfg.init_std,
        layer_norm_eps=cfg.layer_norm_eps,
        pad_token_id=cfg.pad_id,
    )


def _pairs(cfg: BertConfig):
    """(our name, Hugging Face name) for every tensor but the fused qkv."""
    names = [
        ("word_emb.weight", "bert.embeddings.word_embeddings.weight"),
        ("pos_emb.weight", "bert.embeddings.position_embeddings.weight"),
        ("type_emb.weight", "bert.embeddings.token_type_embeddings.weight"),
        ("pooler.weight", "bert.pooler.dense.weight"),
        ("pooler.bias", "bert.pooler.dense.bias"),
        ("mlm_dense.weight", "cls.predictions.transform.dense.weight"),
        ("mlm_dense.bias", "cls.predictions.transform.dense.bias"),
        ("mlm_bias", "cls.predictions.bias"),
        ("nsp.weight", "cls.seq_relationship.weight"),
        ("nsp.bias", "cls.seq_relationship.bias"),
    ]
    for p in ("weight", "bias"):
        names += [(f"emb_norm.{p}", f"bert.embeddings.LayerNorm.{p}")]
        names += [(f"mlm_norm.{p}", f"cls.predictions.transform.LayerNorm.{p}")]
        for i in range(cfg.layers):
            ours, theirs = f"layers.{i}.", f"bert.encoder.layer.{i}."
            names += [
                (ours + f"attn_out.{p}", theirs + f"attention.output.dense.{p}"),
                (ours + f"attn_norm.{p}", theirs + f"attention.output.LayerNorm.{p}"),
                (ours + f"ff_in.{p}", theirs + f"intermediate.dense.{p}"),
                (ours + f"ff_out.{p}", theirs + f"output.dense.{p}"),
                (ours + f"ff_norm.{p}", theirs + f"output.LayerNorm.{p}"),
            ]
    return names


def to_hf(model: Bert, attn_implementation: str = "eager"):
    """A ``transformers.BertForPreTraining`` with ``model``'s weights (built from a config, no download)."""
    from transformers import BertForPreTraining

    cfg = model.cfg
    hf = BertForPreTraining(_hf_config(cfg))
    hf.set_attn_implementation(attn_implementation)
    ours = model.state_dict()
    theirs = hf.state_dict()
    with torch.no_grad():
        for a, b in _pairs(cfg):
            theirs[b].copy_(ours[a])
        for i in range(cfg.layers):
            wq, wk, wv = ours[f"layers.{i}.qkv.weight"].chunk(3)
            bq, bk, bv = ours[f"layers.{i}.qkv.bias"].chunk(3)
            for name, w, bias in (("query", wq, bq), ("key", wk, bk), ("value", wv, bv)):
                theirs[f"bert.encoder.layer.{i}.attention.self.{name}.weight"].copy_(w)
                theirs[f"bert.encoder.layer.{i}.attention.self.{name}.bias"].copy_(bias)
    hf.load_state_dict(theirs)
    hf.tie_weights()
    return hf.train(model.training)


def from_hf(hf) -> Bert:
    """Our :class:`Bert` with the weights of a ``transformers.BertForPreTraining``."""
    c = hf.config
    if c.hidden_act != "gelu":
        raise ValueError(f"only BERT with hidden_act='gelu' can be converted, got {c.hidden_act!r}")
    cfg = BertConfig(
        vocab_size=c.vocab_size,
        hidden=c.hidden_size,
        layers=c.num_hidden_layers,
        heads=c.num_attention_heads,
        intermediate=c.intermediate_size,
        max_len=c.max_position_embeddings,
        type_vocab=c.type_vocab_size,
        dropout=c.hidden_dropout_prob,
        attention_dropout=c.attention_probs_dropout_prob,
        layer_norm_eps=c.layer_norm_eps,
        pad_id=c.pad_token_id if c.pad_token_id is not None else 0,
        init_std=c.initializer_range,
    )
    model = Bert(cfg)
    theirs = hf.state_dict()
    ours = {a: theirs[b] for a, b in _pairs(cfg)}
    for i in range(cfg.layers):
        pre = f"bert.encoder.layer.{i}.attention.self."
        for p in ("weight", "bias"):
            ours[f"layers.{i}.qkv.{p}"] = torch.cat(
                [theirs[pre + f"{n}.{p}"] for n in ("query", "key", "value")]
            )
    model.load_state_dict(ours)
    return model.train(hf.training)


def mlm_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of chosen positions (label != -100) whose arg-max prediction is the original token."""
    chosen = labels != -100
    if not chosen.any():
        raise ValueError("no position is chosen (every label is -100)")
    return float((logits.argmax(-1)[chosen] == labels[chosen]).float().mean())


def pretraining_examples(
    scenes: list[list[str]], texts: list[str], n: int, generator: torch.Generator | None = None
) -> list[tuple[str, str | None, int]]:
    """``n`` pretraining examples ``(sentence_a, sentence_b, nsp_label)`` (notebook 08).

    Half are next-sentence pairs from ``scenes`` (:func:`nsp_pairs`), half are
    single sentences drawn from ``texts`` with ``sentence_b=None`` and
    ``nsp_label=-100`` (MLM only: the NSP loss ignores them).
    """
    if not texts:
        raise ValueError("pretraining_examples needs a non-empty list of single sentences")
    pairs = nsp_pairs(scenes, n // 2, generator)
    picks = torch.randint(len(texts), (n - n // 2,), generator=generator).tolist()
    return [*pairs, *((texts[i], None, -100) for i in picks)]


def pretraining_batch(
    tokenizer, examples, max_len: int = 64, generator: torch.Generator | None = None, mlm_prob: float = 0.15
) -> dict[str, torch.Tensor]:
    """Tokenise, pad and mask ``examples`` (from :func:`pretraining_examples`).

    Returns Hugging Face's input names, so ``hf_model(**batch)`` works as is:
    ``input_ids`` (masked), ``token_type_ids``, ``attention_mask`` and
    ``labels``, all ``(batch, time)``, and ``next_sentence_label`` ``(batch,)``.
    """
    pairs = [i for i, (_, b, _) in enumerate(examples) if b is not None]
    singles = [i for i, (_, b, _) in enumerate(examples) if b is None]
    enc = [None] * len(examples)
    for group, second in ((pairs, [examples[i][1] for i in pairs]), (singles, None)):
        if group:  # one batched call per group: the Rust tokenizer is much faster on lists
            out = tokenizer([examples[i][0] for i in group], second, truncation=True, max_length=max_len)
            for j, i in enumerate(group):
                enc[i] = {key: values[j] for key, values in out.items()}
    batch = tokenizer.pad(enc, return_tensors="pt")
    ids = batch["input_ids"]
    never = torch.tensor([tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id])
    specials = set(tokenizer.all_special_ids)
    ordinary = torch.tensor([i for i in range(len(tokenizer)) if i not in specials])
    corrupted, labels = mask_tokens(
        ids, torch.isin(ids, never), tokenizer.mask_token_id, ordinary, mlm_prob, generator
    )
    return {
        "input_ids": corrupted,
        "token_type_ids": batch["token_type_ids"],
        "attention_mask": batch["attention_mask"],
        "labels": labels,
        "next_sentence_label": torch.tensor([label for _, _, label in examples]),
    }


def _optimise(
    model: nn.Module, loss_of_step, steps: int, lr: float, progress: bool, desc: str
) -> list[float]:
    """AdamW with 10% linear warm-up then linear decay, gradients clipped at 1; returns the losses."""
    from tqdm.auto import tqdm

    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm)))
    )
    model.train()
    losses = []
    for step in tqdm(range(steps), desc=desc, disable=not progress, mininterval=1.0):
        loss = loss_of_step(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
    model.eval()
    return losses


def pretrain(
    model: Bert,
    tokenizer,
    scenes: list[list[str]],
    texts: list[str],
    steps: int = 300,
    batch_size: int = 32,
    lr: float = 1e-3,
    use_nsp: bool = True,
    seed: int = 0,
    progress: bool = True,
) -> list[float]:
    """Pretrain ``model`` with MLM (+ NSP unless ``use_nsp=False``) on fresh examples each step.

    Masks are drawn anew for every batch (dynamic masking). Returns the loss of
    every step; leaves the model in eval mode.
    """
    gen = torch.Generator().manual_seed(seed)

    def loss_of_step(step: int) -> torch.Tensor:
        examples = pretraining_examples(scenes, texts, batch_size, gen)
        batch = pretraining_batch(tokenizer, examples, model.cfg.max_len, gen)
        chosen = batch["labels"] != -100
        out = model(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"], mlm_mask=chosen)
        return pretraining_loss(
            out, batch["labels"][chosen], batch["next_sentence_label"] if use_nsp else None
        )

    return _optimise(
        model, loss_of_step, steps, lr, progress, "pretraining" + ("" if use_nsp else " (no NSP)")
    )


@torch.no_grad()
def evaluate_pretraining(
    model: Bert, tokenizer, scenes: list[list[str]], texts: list[str], n: int = 512, seed: int = 0
) -> dict[str, float]:
    """MLM accuracy (arg-max equals the original token at chosen positions) and
    NSP accuracy (over the pairs) on ``n`` examples drawn with ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    batch = pretraining_batch(tokenizer, pretraining_examples(scenes, texts, n, gen), model.cfg.max_len, gen)
    model.eval()
    out = model(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"])
    is_pair = batch["next_sentence_label"] != -100
    nsp = (out.nsp_logits.argmax(-1) == batch["next_sentence_label"])[is_pair].float().mean()
    return {"mlm_accuracy": mlm_accuracy(out.mlm_logits, batch["labels"]), "nsp_accuracy": float(nsp)}


@torch.no_grad()
def fill_mask(model: Bert, tokenizer, text: str, k: int = 5) -> list[list[tuple[str, float]]]:
    """For each ``[MASK]`` in ``text``, the ``k`` most probable tokens and their probabilities."""
    enc = tokenizer(text, return_tensors="pt")
    where = (enc["input_ids"][0] == tokenizer.mask_token_id).nonzero().flatten()
    if len(where) == 0:
        raise ValueError(f"no [MASK] token in {text!r}: write [MASK] where a word should be predicted")
    model.eval()
    probs = model(enc["input_ids"], enc["token_type_ids"]).mlm_logits[0, where].softmax(-1)
    top = probs.topk(k, dim=-1)
    return [
        list(zip(tokenizer.convert_ids_to_tokens(i.tolist()), p.tolist(), strict=True))
        for p, i in zip(top.values, top.indices, strict=True)
    ]


class BertClassifier(nn.Module):
    """A sentence classifier on top of a :class:`Bert` (notebook 08).

    ``pooling="cls"`` classifies the pooled ``[CLS]`` vector, as
    ``BertForSequenceClassification`` does; ``pooling="mean"`` the mean of the
    last hidden states over real tokens. ``forward(input_ids,
    token_type_ids=None, attention_mask=None)`` returns logits ``(batch, num_labels)``.
    """

    def __init__(self, bert: Bert, num_labels: int, pooling: str = "cls", dropout: float = 0.1):
        super().__init__()
        if pooling not in ("cls", "mean"):
            raise ValueError(f"pooling must be 'cls' or 'mean', got {pooling!r}")
        self.bert = bert
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(bert.cfg.hidden, num_labels)

    def forward(self, input_ids, token_type_ids=None, attention_mask=None) -> torch.Tensor:
        if attention_mask is None:
            attention_mask = input_ids != self.bert.cfg.pad_id
        hidden = self.bert.encode(input_ids, token_type_ids, attention_mask)
        if self.pooling == "cls":
            pooled = torch.tanh(self.bert.pooler(hidden[:, 0]))
        else:
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1)
        return self.head(self.dropout(pooled))


def finetune(
    classifier: BertClassifier,
    tokenizer,
    texts: list[str],
    labels: list[int],
    steps: int = 100,
    batch_size: int = 16,
    lr: float = 5e-4,
    seed: int = 0,
    freeze_encoder: bool = False,
    progress: bool = False,
) -> list[float]:
    """Fine-tune ``classifier`` on ``(texts, labels)`` with cross-entropy: every
    weight, or only the head with ``freeze_encoder=True`` (BERT used as a
    fixed feature extractor)."""
    if len(texts) != len(labels) or not texts:
        raise ValueError(f"expected as many labels as texts (and some), got {len(texts)} and {len(labels)}")
    classifier.bert.requires_grad_(not freeze_encoder)
    gen = torch.Generator().manual_seed(seed)
    y = torch.as_tensor(labels)

    def loss_of_step(step: int) -> torch.Tensor:
        idx = torch.randint(len(texts), (batch_size,), generator=gen)
        enc = tokenizer([texts[i] for i in idx], padding=True, return_tensors="pt")
        logits = classifier(enc["input_ids"], enc["token_type_ids"], enc["attention_mask"])
        return F.cross_entropy(logits, y[idx])

    return _optimise(classifier, loss_of_step, steps, lr, progress, "fine-tuning")


@torch.no_grad()
def classify(classifier: BertClassifier, tokenizer, texts: list[str], batch_size: int = 256) -> torch.Tensor:
    """Predicted class of each text, ``(len(texts),)`` int64."""
    classifier.eval()
    preds = []
    for i in range(0, len(texts), batch_size):
        enc = tokenizer(texts[i : i + batch_size], padding=True, return_tensors="pt")
        preds.append(classifier(enc["input_ids"], enc["token_type_ids"], enc["attention_mask"]).argmax(-1))
    return torch.cat(preds)
