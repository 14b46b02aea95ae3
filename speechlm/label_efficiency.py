"""Label efficiency: how many labelled utterances does pretraining save? (notebook 12)

Two curves, each comparing the pretrained encoder with the same architecture trained from scratch:

- :func:`ctc_curve`: character-level CTC recognition after training on ``budget`` labelled
  utterances, for several budgets (:class:`CTCCurveRecipe`);
- :func:`shots_curve`: spoken digit words with 1, 3 or 10 labelled utterances per class, a pooled
  utterance classifier on the encoder (:class:`ShotsRecipe`).

Notebook 12 computes the sharpest point, one labelled recording per digit (:data:`NOTEBOOK_SHOTS`,
about a minute); the CTC curve (25, 50 and 100 labelled utterances, about 8 minutes on 2 cores) and
the whole digit-word curve are ``benchmarks/label_efficiency.py``'s.

The rules that make the comparison fair are the same for both arms: the same head, the same number
of training steps, the same grid of learning rates, the same SpecAugment masks, the checkpoint and
the learning rate chosen on dev speakers, the error measured on unseen test speakers. The one
difference is the standard way of starting from a pretrained encoder: it stays frozen for the first
``freeze_fraction`` of the steps, so that the randomly initialised head does not wreck its features
with large early gradients, and then trains like the scratch encoder, which trains from step 1
(freezing a random encoder would only handicap the baseline). ``benchmarks/README.md`` records the
recipes tried.

:func:`load_ctc_curve` and :func:`load_shots_curve` compute the curves of the course's pretrained
encoder on the embedded corpus on first use (minutes; in two processes where two cores and 4 GB
exist, else one at a time: :func:`~speechlm.workers.default_workers`) and
cache the numbers as JSON, keyed by every setting and by the encoder's own cache key (a class's
shared cache, ``$SPEECHLM_SHARED_CACHE``, is read too).
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from speechlm import cache_fetch
from speechlm.augment import SpecAugment, spec_augment
from speechlm.batching import lengths_to_mask, masked_mean, pad_sequences, random_batches
from speechlm.ctc import ALPHABET, CharVocab
from speechlm.features import log_mel_features
from speechlm.finetune import (
    ASRItem,
    FinetuneConfig,
    LayerMix,
    evaluate_asr,
    finetune_ctc,
    prepare,
)
from speechlm.optim import scheduler, tenth
from speechlm.ssl.encoder import SpeechEncoder
from speechlm.train import fit
from speechlm.utils import atomic_write_text, cache_dir, find_cached
from speechlm.workers import default_workers, run_jobs

__all__ = [
    "NOTEBOOK_SHOTS",
    "CTCCurveRecipe",
    "PooledHead",
    "ShotsRecipe",
    "against_course",
    "cache_name",
    "check_budgets",
    "comparison_table",
    "course_ctc_items",
    "ctc_curve",
    "curve_settings",
    "digit_words",
    "label_ratio",
    "load_ctc_curve",
    "load_shots_curve",
    "markdown_table",
    "shots_curve",
]

VERSION = 1  # bump when the training code changes, so that no stale cached curve is served


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


@dataclass(frozen=True)
class ShotsRecipe:
    """Settings of the utterance-level curve: digit words with ``shots`` labelled utterances per class."""

    shots: tuple[int, ...] = (1, 3, 10)
    draws: int = 3  # random labelled subsets per point, averaged
    steps: int = 150
    batch_size: int = 16
    lr_head: float = 2e-3
    encoder_lrs: tuple[float, ...] = (2e-3,)  # the grid of encoder learning rates, both arms alike
    freeze_fraction: float = 0.5  # share of the steps the pretrained encoder stays frozen (1: always)
    eval_every: int = 25
    seed: int = 0


# Notebook 12's point: one labelled recording per digit, three draws, both arms (six runs, about a
# minute on 2 cores); its runs are the full curve's runs for one shot, so its numbers are the same.
NOTEBOOK_SHOTS = ShotsRecipe(shots=(1,))


# --------------------------------------------------------------------------------------------- CTC


def check_budgets(budgets: Sequence[int], available: int) -> None:
    """Raise ``ValueError`` unless ``budgets`` are increasing positive numbers of utterances, the
    largest at most ``available``."""
    if not budgets or any(int(b) < 1 for b in budgets) or list(budgets) != sorted(set(budgets)):
        raise ValueError(f"budgets must be increasing positive numbers of utterances, got {list(budgets)}")
    if budgets[-1] > available:
        raise ValueError(
            f"the largest budget ({budgets[-1]}) exceeds the {available} labelled utterances given"
        )


def _arm_encoder(job: dict) -> SpeechEncoder:
    """The job's encoder: the pretrained weights, or the same architecture freshly initialised (the
    same draw for every job of a recipe). Also sets the worker's torch threads."""
    if job["threads"]:
        torch.set_num_threads(job["threads"])
    if job["arm"] != "pretrained":
        torch.manual_seed(job["recipe"].seed + 12345)
    encoder = SpeechEncoder(job["config"])
    if job["arm"] == "pretrained":
        encoder.load_state_dict(job["state"])
    return encoder


def _ctc_job(job: dict) -> dict:
    """One fine-tuning run (picklable, so that it can run in a worker process)."""
    recipe: CTCCurveRecipe = job["recipe"]
    encoder = _arm_encoder(job)
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


def _freeze_steps(arm: str, recipe) -> int:
    return round(recipe.freeze_fraction * recipe.steps) if arm == "pretrained" else 0


def _grid(arm: str, recipe) -> tuple[float, ...]:
    """The encoder learning rates an arm tries: one run suffices for an encoder frozen throughout."""
    return recipe.encoder_lrs[:1] if _freeze_steps(arm, recipe) >= recipe.steps else recipe.encoder_lrs


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
        for lr in _grid(arm, recipe)
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


def label_ratio(
    budgets: Sequence[int], pretrained: Sequence[float], scratch: Sequence[float]
) -> float | None:
    """How many times more labels the scratch arm needs to reach the pretrained arm's error at the
    smallest budget, interpolating the scratch curve linearly in log(budget). 1.0 when the scratch
    arm is already as good at the smallest budget; ``None`` when it never gets that low within the
    budgets (the ratio is then more than ``budgets[-1] / budgets[0]``)."""
    if not (len(budgets) == len(pretrained) == len(scratch)) or not budgets:
        raise ValueError("budgets, pretrained and scratch must be non-empty and of the same length")
    target = pretrained[0]
    if scratch[0] <= target:
        return 1.0
    for i in range(len(budgets) - 1):
        (b0, e0), (b1, e1) = (budgets[i], scratch[i]), (budgets[i + 1], scratch[i + 1])
        if e0 >= target >= e1 and e0 != e1:
            frac = (e0 - target) / (e0 - e1)
            return float(np.exp(np.log(b0) + frac * (np.log(b1) - np.log(b0)))) / budgets[0]
    return None


def markdown_table(rows: Sequence[dict]) -> str:
    """The CTC curve as a Markdown table (budget, CER/WER of both arms, relative CER gain)."""
    lines = [
        "| labelled utterances | CER pretrained | CER scratch | WER pretrained | WER scratch "
        "| relative CER gain |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['budget']} | {r['pretrained_cer']:.3f} | {r['scratch_cer']:.3f} "
            f"| {r['pretrained_wer']:.3f} | {r['scratch_wer']:.3f} | {r['relative_gain']:+.0%} |"
        )
    return "\n".join(lines)


# ------------------------------------------------------------------------------- utterance level


class PooledHead(nn.Module):
    """An utterance classifier on every layer of an encoder: a :class:`~speechlm.finetune.LayerMix`,
    averaged over the real frames, dropout and a linear layer."""

    def __init__(self, num_layers: int, d_model: int, num_classes: int, dropout: float = 0.1):
        super().__init__()
        self.mix = LayerMix(num_layers, d_model)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(d_model, num_classes)

    def forward(self, layers: Sequence[torch.Tensor], lengths: torch.Tensor) -> torch.Tensor:
        x = self.mix(layers)
        pooled = masked_mean(x, lengths_to_mask(lengths, x.shape[1]))
        return self.out(self.dropout(pooled))


class _WordClassifier(nn.Module):
    """An encoder under a :class:`PooledHead` (the head registered first: its parameters come first,
    as the gradient clipping has always summed them). While :attr:`frozen` is True the encoder runs
    in eval mode without gradients."""

    def __init__(self, head: PooledHead, encoder: SpeechEncoder):
        super().__init__()
        self.head = head
        self.encoder = encoder
        self.frozen = False

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if self.frozen:
            self.encoder.eval()
            with torch.no_grad():
                out = self.encoder(x, lengths)
        else:
            out = self.encoder(x, lengths)
        return self.head(out.layers, out.lengths)


@torch.no_grad()
def _accuracy(model: _WordClassifier, mels, labels) -> float:
    was_training, frozen = model.training, model.frozen
    model.eval()
    model.frozen = True
    preds = torch.cat([model(*pad_sequences(mels[s : s + 64])).argmax(-1) for s in range(0, len(mels), 64)])
    model.train(was_training)
    model.frozen = frozen
    return float((preds == torch.as_tensor(labels)).float().mean())


def _shots_job(job: dict) -> dict:
    """One digit-word run (picklable, so that it can run in a worker process)."""
    recipe: ShotsRecipe = job["recipe"]
    encoder = _arm_encoder(job)
    freeze_steps = _freeze_steps(job["arm"], recipe)
    torch.manual_seed(recipe.seed + job["draw"])
    head = PooledHead(job["config"].num_layers + 1, job["config"].d_model, job["num_classes"])
    model = _WordClassifier(head, encoder)
    optimizer = torch.optim.AdamW(
        [
            {"params": head.parameters(), "lr": recipe.lr_head},
            {"params": encoder.parameters(), "lr": job["lr"]},
        ],
        weight_decay=0.01,
    )
    augment = SpecAugment(time_width=5)  # masks scaled to word-length utterances
    generator = torch.Generator().manual_seed(recipe.seed + job["draw"])
    mels, labels = job["train_mels"], torch.as_tensor(job["train_labels"])

    def batches():
        for idx in random_batches(len(mels), recipe.batch_size, generator):
            x, lengths = pad_sequences([mels[i] for i in idx])
            yield spec_augment(x, lengths, augment, generator), lengths, labels[idx]

    def before_step(step: int) -> None:
        model.frozen = step <= freeze_steps
        encoder.train(not model.frozen)

    start = time.perf_counter()
    history = fit(
        model,
        batches(),
        optimizer=optimizer,
        steps=recipe.steps,
        loss_fn=F.cross_entropy,
        scheduler=scheduler(optimizer, recipe.steps, tenth(recipe.steps), starts=[0, freeze_steps]),
        grad_clip=5.0,
        eval_every=recipe.eval_every,
        before_step=before_step,
        eval_fn=lambda model: {"accuracy": _accuracy(model, job["dev_mels"], job["dev_labels"])},
        keep_best="accuracy",
        mode="max",
        progress=False,
    )
    return {
        "arm": job["arm"],
        "shots": job["shots"],
        "draw": job["draw"],
        "lr": job["lr"],
        "dev_accuracy": history.best,
        "best_step": history.best_step,
        "accuracy": _accuracy(model, job["test_mels"], job["test_labels"]),
        "seconds": time.perf_counter() - start,
    }


def _draw_shots(labels: Sequence[int], shots: int, draw: int, seed: int) -> list[int]:
    """Indices of ``shots`` random utterances of every class (draw ``draw`` of them)."""
    rng = np.random.default_rng([seed, shots, draw])
    labels = np.asarray(labels)
    picked = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < shots:
            raise ValueError(f"class {c} has {len(members)} labelled utterances, fewer than shots={shots}")
        picked.extend(rng.choice(members, shots, replace=False).tolist())
    return sorted(picked)


def shots_curve(
    encoder: SpeechEncoder,
    train: tuple[Sequence[torch.Tensor], Sequence[int]],
    dev: tuple[Sequence[torch.Tensor], Sequence[int]],
    test: tuple[Sequence[torch.Tensor], Sequence[int]],
    recipe: ShotsRecipe | None = None,
    *,
    workers: int | None = None,
    progress: bool = True,
) -> list[dict]:
    """Test accuracy of a pooled classifier trained on ``shots`` labelled utterances per class,
    the pretrained ``encoder`` against the same architecture from scratch.

    ``train``, ``dev``, ``test``: ``(log-mel tensors, integer labels)``; the labelled utterances are
    drawn from ``train`` (``recipe.draws`` different draws per point, averaged). Returns one dict per
    number of shots: ``shots``, ``labelled`` (utterances), ``pretrained_accuracy``,
    ``scratch_accuracy`` (means over the draws), the per-draw lists ``*_accuracies`` and ``chance``.
    """
    recipe = recipe or ShotsRecipe()
    for name, (mels, labels) in (("train", train), ("dev", dev), ("test", test)):
        if not len(mels) or len(mels) != len(labels):
            raise ValueError(f"{name}: need as many log-mel tensors as labels, and at least one")
    num_classes = int(max(max(train[1]), max(dev[1]), max(test[1]))) + 1
    workers = default_workers() if workers is None else workers
    state = {k: v.detach().clone() for k, v in encoder.state_dict().items()}
    base = {
        "config": encoder.config,
        "state": state,
        "recipe": recipe,
        "num_classes": num_classes,
        "dev_mels": list(dev[0]),
        "dev_labels": list(dev[1]),
        "test_mels": list(test[0]),
        "test_labels": list(test[1]),
        "threads": 0,
    }
    jobs = []
    for shots in recipe.shots:
        for draw in range(recipe.draws):
            idx = _draw_shots(train[1], shots, draw, recipe.seed)
            for arm in ("scratch", "pretrained"):
                for lr in _grid(arm, recipe):
                    jobs.append({
                        **base, "arm": arm, "shots": shots, "draw": draw, "lr": lr,
                        "train_mels": [train[0][i] for i in idx], "train_labels": [train[1][i] for i in idx],
                    })  # fmt: skip
    runs = run_jobs(_shots_job, jobs, workers, progress, "label-efficiency curve (digit words)")
    rows = []
    counts = np.bincount(np.asarray(test[1]), minlength=num_classes)
    for shots in recipe.shots:
        row = {
            "shots": shots,
            "labelled": shots * len(set(train[1])),
            "chance": float(counts.max() / counts.sum()),
        }
        for arm in ("pretrained", "scratch"):
            accs = []
            for draw in range(recipe.draws):
                candidates = [r for r in runs if (r["arm"], r["shots"], r["draw"]) == (arm, shots, draw)]
                accs.append(max(candidates, key=lambda r: r["dev_accuracy"])["accuracy"])
            row[f"{arm}_accuracies"] = accs
            row[f"{arm}_accuracy"] = float(np.mean(accs))
        rows.append(row)
    return rows


# ------------------------------------------------------------------------- cached, embedded corpus

# The embedded-corpus data behind the cached curves (changing them changes the cache key).
CTC_DATA = {"corpus_seed": 0, "n_dev": 60, "n_test": 120}
SHOTS_DATA = {"corpus_seed": 0, "n_train": 600, "n_dev": 200, "n_test": 300}


def curve_settings(kind: str, recipe=None, encoder: str = "hubert") -> dict:
    """The settings that name a cached curve of the course's ``encoder``: ``kind`` is ``"ctc"``
    (:func:`load_ctc_curve`, ``recipe`` defaults to :class:`CTCCurveRecipe`'s) or ``"shots"``
    (:func:`load_shots_curve`, default :data:`NOTEBOOK_SHOTS`)."""
    from speechlm import pretrained

    default, data = {"ctc": (CTCCurveRecipe(), CTC_DATA), "shots": (NOTEBOOK_SHOTS, SHOTS_DATA)}[kind]
    return {"recipe": asdict(recipe or default), "encoder": pretrained.cache_path(encoder).stem, **data}


def cache_name(kind: str, settings: dict) -> str:
    """The file name (in ``cache_dir("results")``) of the curve ``kind`` computed with ``settings``."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"label-efficiency-{kind}-v{VERSION}-{digest}.json"


def _cached(kind: str, settings: dict, compute, progress: bool) -> dict:
    """``{"rows": compute(), "settings", "seconds"}``, cached as JSON under a name that hashes the
    ``settings``: read from the user's cache or a shared one (``$SPEECHLM_SHARED_CACHE``, built once
    by an instructor), else computed and written atomically to the user's cache. A damaged file is
    reported by path (a warning) and computed again."""
    name = cache_name(kind, settings)
    expected = json.loads(json.dumps(settings, default=str))
    result = _read_cached(name, expected)
    if result is None and cache_fetch.fetch_if_enabled("results", name):  # Colab: a verified archive
        result = _read_cached(name, expected)
    if result is not None:
        return result
    start = time.perf_counter()
    result = {"rows": compute(), "settings": settings}
    result["seconds"] = time.perf_counter() - start
    atomic_write_text(cache_dir("results") / name, json.dumps(result, indent=1, default=str))
    return result


def _read_cached(name: str, settings: dict) -> dict | None:
    """The cached result ``name`` (``settings`` as JSON gives them back), or None to compute it. A
    damaged copy in the user's cache is deleted (then a shared cache may still have a good one); one
    in a shared cache is ignored, and the result computed again shadows it."""
    while (path := find_cached("results", name)) is not None:
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(result, dict) or not isinstance(result.get("rows"), list):
                raise ValueError('not a JSON object with a "rows" list')
            if result.get("settings") != settings:
                raise ValueError(f"its settings {result.get('settings')} are not {settings}")
            return result
        except (OSError, ValueError) as err:
            problem = f"cannot use the cached label-efficiency curve {path} ({err})"
        mine = path.parent == cache_dir("results", create=False)
        if not mine:
            warnings.warn(
                f"{problem}: ignoring it and computing the curve again into {cache_dir('results')}; "
                "ask whoever built the shared cache ($SPEECHLM_SHARED_CACHE) to rebuild it",
                stacklevel=4,
            )
            return None
        warnings.warn(
            f"{problem}: deleting it, then reading a shared cache's copy or computing the curve again",
            stacklevel=4,
        )
        try:
            path.unlink()
        except OSError:
            return None  # the result computed again replaces it
    return None


def load_ctc_curve(
    recipe: CTCCurveRecipe | None = None, encoder: str = "hubert", *, progress: bool = True
) -> dict:
    """The CTC curve (:func:`ctc_curve`) of the course's pretrained ``encoder`` on the embedded
    corpus: the first ``budget`` utterances of its training split, 60 dev and 120 test utterances
    (unseen speakers); ``recipe`` defaults to the benchmark's (:class:`CTCCurveRecipe`: 25, 50 and 100
    labels, about 8 minutes on 2 cores). Computed on first use and cached; returns
    ``{"rows", "settings", "seconds"}``."""
    from speechlm import pretrained

    recipe = recipe or CTCCurveRecipe()
    settings = curve_settings("ctc", recipe, encoder)

    def compute():
        enc = pretrained.load(encoder, progress=progress)
        return ctc_curve(enc, *course_ctc_items(max(recipe.budgets), progress), recipe, progress=progress)

    return _cached("ctc", settings, compute, progress)


def against_course(
    encoder: SpeechEncoder, *, workers: int | None = None, progress: bool = True
) -> tuple[list[dict], list[dict]]:
    """Fine-tune another pretrained ``encoder`` of the course's architecture exactly as the benchmark
    fine-tunes the course's (:func:`load_ctc_curve`'s data and recipe, 25, 50 and 100 labels). The
    scratch arm does not depend on the pretrained weights, so the course encoder's cached one is
    reused and only ``encoder``'s runs train. Returns ``(rows, course_rows)``: this encoder's curve
    and the course encoder's."""
    from speechlm import pretrained

    architecture = pretrained.RECIPES["hubert"].hubert.encoder
    if encoder.config != architecture:
        raise ValueError(
            f"the encoder must have the course encoder's architecture to share its scratch arm: "
            f"{architecture}, got {encoder.config}"
        )
    recipe = CTCCurveRecipe()
    course = load_ctc_curve(recipe, progress=progress)
    labelled, dev, test = course_ctc_items(max(recipe.budgets), progress)
    rows = ctc_curve(
        encoder, labelled, dev, test, recipe, scratch=course["rows"], workers=workers, progress=progress
    )
    return rows, course["rows"]


def comparison_table(name: str, rows: Sequence[dict], course_rows: Sequence[dict]) -> str:
    """Markdown: :func:`against_course`'s curve of encoder ``name`` beside the course encoder's."""
    lines = [
        f"| labeled utterances | CER {name} | CER course encoder | CER scratch | gain {name} "
        "| gain course encoder |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r, b in zip(rows, course_rows, strict=True):
        lines.append(
            f"| {r['budget']} | {r['pretrained_cer']:.3f} | {b['pretrained_cer']:.3f} "
            f"| {r['scratch_cer']:.3f} | {r['relative_gain']:+.0%} | {b['relative_gain']:+.0%} |"
        )
    return "\n".join(lines)


def course_ctc_items(n_labelled: int, progress: bool = False) -> tuple[list, list, list]:
    """The data of the course's CTC curve: the first ``n_labelled`` utterances of the embedded
    corpus's training split, 60 dev and 120 test utterances (unseen speakers), as
    :class:`~speechlm.finetune.ASRItem` lists ``(labelled, dev, test)``."""
    from speechlm import corpus

    vocab = CharVocab(ALPHABET)
    seed = CTC_DATA["corpus_seed"]

    def items(split, size):
        return prepare(corpus.load("embedded", split=split, size=size, seed=seed, progress=progress), vocab)

    return items("train", n_labelled), items("dev", CTC_DATA["n_dev"]), items("test", CTC_DATA["n_test"])


def digit_words(
    split: str, size: int, seed: int = 0, progress: bool = False
) -> tuple[list[torch.Tensor], list[int]]:
    """The isolated digit words among ``size`` digits-task utterances of the embedded corpus's
    ``split``: ``(log-mel tensors, digits 0-9)``."""
    from speechlm import corpus

    utts = corpus.load("embedded", split=split, size=size, seed=seed, tasks="digits", progress=progress)
    utts = [u for u in utts if "digit" in u.labels]
    return [log_mel_features(u.audio, u.sample_rate) for u in utts], [int(u.labels["digit"]) for u in utts]


def load_shots_curve(
    recipe: ShotsRecipe | None = None, encoder: str = "hubert", *, progress: bool = True
) -> dict:
    """The digit-word curve (:func:`shots_curve`) of the course's pretrained ``encoder`` on the
    embedded corpus (labelled utterances drawn from the training split; dev and test speakers
    unseen); ``recipe`` defaults to notebook 12's one shot per digit, :data:`NOTEBOOK_SHOTS`
    (``ShotsRecipe()`` is the benchmark's whole curve). Computed on first use and cached; returns
    ``{"rows", "settings", "seconds"}``."""
    from speechlm import pretrained

    recipe = recipe or NOTEBOOK_SHOTS
    settings = curve_settings("shots", recipe, encoder)

    def compute():
        seed = SHOTS_DATA["corpus_seed"]
        data = [digit_words(s, SHOTS_DATA[f"n_{s}"], seed, progress) for s in ("train", "dev", "test")]
        return shots_curve(pretrained.load(encoder, progress=progress), *data, recipe, progress=progress)

    return _cached("shots", settings, compute, progress)
