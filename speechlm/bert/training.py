"""Pretraining, evaluation and fine-tuning of the tiny BERT (notebook 08), all through
:func:`speechlm.train.fit`."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from speechlm.bert.data import pretraining_batch, pretraining_examples
from speechlm.bert.model import Bert, mlm_accuracy, pretraining_loss
from speechlm.train import fit_adamw


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

    def batches():
        while True:
            yield pretraining_batch(
                tokenizer, pretraining_examples(scenes, texts, batch_size, gen), model.cfg.max_len, gen
            )

    def step_fn(model: Bert, batch: dict) -> torch.Tensor:
        chosen = batch["labels"] != -100
        out = model(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"], mlm_mask=chosen)
        return pretraining_loss(
            out, batch["labels"][chosen], batch["next_sentence_label"] if use_nsp else None
        )

    desc = "pretraining" + ("" if use_nsp else " (no NSP)")
    return fit_adamw(model, batches(), steps=steps, lr=lr, step_fn=step_fn, progress=progress, desc=desc)


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
        self.head = nn.Linear(bert.cfg.d_model, num_labels)

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

    def batches():
        while True:
            idx = torch.randint(len(texts), (batch_size,), generator=gen)
            yield tokenizer([texts[i] for i in idx], padding=True, return_tensors="pt"), y[idx]

    def step_fn(classifier: BertClassifier, batch) -> torch.Tensor:
        enc, target = batch
        logits = classifier(enc["input_ids"], enc["token_type_ids"], enc["attention_mask"])
        return F.cross_entropy(logits, target)

    return fit_adamw(
        classifier, batches(), steps=steps, lr=lr, step_fn=step_fn, progress=progress, desc="fine-tuning"
    )


@torch.no_grad()
def classify(classifier: BertClassifier, tokenizer, texts: list[str], batch_size: int = 256) -> torch.Tensor:
    """Predicted class of each text, ``(len(texts),)`` int64."""
    classifier.eval()
    preds = []
    for i in range(0, len(texts), batch_size):
        enc = tokenizer(texts[i : i + batch_size], padding=True, return_tensors="pt")
        preds.append(classifier(enc["input_ids"], enc["token_type_ids"], enc["attention_mask"]).argmax(-1))
    return torch.cat(preds)
