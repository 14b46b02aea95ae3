"""The CTC label-efficiency curve (notebook 12): character and word error rates after CTC training on
``budget`` labelled utterances, the pretrained encoder against the same architecture from scratch, for
several budgets (:func:`ctc_curve`, :class:`CTCCurveRecipe`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from speechlm.ctc import ALPHABET, CharVocab
from speechlm.finetune import ASRItem, FinetuneConfig, evaluate_asr, finetune_ctc
from speechlm.label_efficiency.arms import _encoder_for, _encoder_lrs, _freeze_steps
from speechlm.ssl.encoder import SpeechEncoder
from speechlm.workers import default_workers, run_jobs


@dataclass(frozen=True)
class CTCCurveRecipe:
    """Settings of the CTC label-efficiency curve (defaults: ``benchmarks/label_efficiency.py``'s)."""

    budgets: tuple[int, ...] = (25, 50, 100)  # labelled utterances
    steps: int = 600  # fine-tuning steps, the same for both arms and every budget
    batch_size: int = 8
    lr_head: float = 2e-3
    encoder_lrs: tuple[float, ...] = (2e-3,)  # the grid of encoder learning rates, both arms alike
    freeze_fraction: float = 1 / 3  # share of the steps the pretrained encoder stays frozen (1: always)
    hidden: int = 128  # the layer-mix BiGRU head's units per direction
    eval_every: int = 100
    seed: int = 0


def check_budgets(budgets: Sequence[int], available: int) -> None:
    """Raise ``ValueError`` unless ``budgets`` are increasing positive numbers of utterances, the
    largest at most ``available``."""
    if not budgets or any(int(b) < 1 for b in budgets) or list(budgets) != sorted(set(budgets)):
        raise ValueError(f"budgets must be increasing positive numbers of utterances, got {list(budgets)}")
    if budgets[-1] > available:
        raise ValueError(
            f"the largest budget ({budgets[-1]}) exceeds the {available} labelled utterances given"
        )


def _ctc_job(job: dict) -> dict:
    """One fine-tuning run (picklable, so that it can run in a worker process)."""
    recipe: CTCCurveRecipe = job["recipe"]
    encoder = _encoder_for(job)
    config = FinetuneConfig(
        steps=recipe.steps,
        batch_size=recipe.batch_size,
        lr_head=recipe.lr_head,
        lr_encoder=job["lr"],
        freeze_steps=_freeze_steps(job["arm"], recipe),
        eval_every=recipe.eval_every,
        seed=recipe.seed,
    )
    vocab = CharVocab(ALPHABET)
    start = time.perf_counter()
    model, info = finetune_ctc(
        encoder,
        job["train"],
        job["dev"],
        vocab,
        config,
        head="layer_mix",
        hidden=recipe.hidden,
        progress=False,
    )
    scores = evaluate_asr(model, job["test"], vocab)
    return {
        "arm": job["arm"],
        "budget": len(job["train"]),
        "lr": job["lr"],
        "dev_cer": info["best_dev_cer"],
        "best_step": info["best_step"],
        "cer": scores["cer"],
        "wer": scores["wer"],
        "seconds": time.perf_counter() - start,
    }


def ctc_curve(
    encoder: SpeechEncoder,
    labelled: Sequence[ASRItem],
    dev: Sequence[ASRItem],
    test: Sequence[ASRItem],
    recipe: CTCCurveRecipe | None = None,
    *,
    scratch: Sequence[dict] | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> list[dict]:
    """CER and WER on ``test`` after CTC training on the first ``budget`` of ``labelled`` items, the
    pretrained ``encoder`` against the same architecture from scratch, for every budget.

    For each budget and arm, every learning rate of the grid is tried and the run with the lowest
    dev CER is kept. Returns one dict per budget: ``budget``, ``pretrained_cer``,
    ``pretrained_wer``, ``scratch_cer``, ``scratch_wer``, ``relative_gain`` (``1 - pretrained_cer /
    scratch_cer``), and the chosen ``pretrained_lr``/``scratch_lr`` and ``*_step``.

    ``scratch``: the rows of an earlier call with the same items, recipe and encoder architecture;
    their scratch arm is reused instead of trained again (it does not depend on the pretrained
    weights), to compare another pretrained encoder in half the time.
    """
    recipe = recipe or CTCCurveRecipe()
    check_budgets(recipe.budgets, len(labelled))
    if not dev or not test:
        raise ValueError("ctc_curve needs dev and test items")
    if scratch is not None and [r["budget"] for r in scratch] != list(recipe.budgets):
        raise ValueError(
            f"scratch rows are for budgets {[r['budget'] for r in scratch]}, not {list(recipe.budgets)}"
        )
    arms = ("pretrained",) if scratch is not None else ("scratch", "pretrained")
    workers = default_workers() if workers is None else workers
    state = {k: v.detach().clone() for k, v in encoder.state_dict().items()}
    base = {"config": encoder.config, "state": state, "recipe": recipe, "dev": list(dev), "test": list(test)}
    jobs = [
        {**base, "arm": arm, "train": list(labelled[:budget]), "lr": lr, "threads": 0}
        for budget in recipe.budgets
        for arm in arms  # the slower arm first, so that two workers finish together
        for lr in _encoder_lrs(arm, recipe)
    ]
    runs = run_jobs(_ctc_job, jobs, workers, progress, "label-efficiency curve (CTC)")
    rows = []
    for i, budget in enumerate(recipe.budgets):
        row = {"budget": budget}
        if scratch is not None:
            row.update({k: v for k, v in scratch[i].items() if k.startswith("scratch_")})
        for arm in arms:
            best = min(
                (r for r in runs if r["budget"] == budget and r["arm"] == arm), key=lambda r: r["dev_cer"]
            )
            row.update(
                {f"{arm}_{k}": best[k] for k in ("cer", "wer", "dev_cer", "lr", "best_step", "seconds")}
            )
        row["relative_gain"] = 1.0 - row["pretrained_cer"] / row["scratch_cer"]
        rows.append(row)
    return rows
