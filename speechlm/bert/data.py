"""BERT's pretraining data: masked-LM corruption and next-sentence pairs (notebook 08)."""

from __future__ import annotations

import torch


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
