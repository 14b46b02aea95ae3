"""The label-efficiency benchmarks' helpers for CTC curves (not a script): the label ratio at equal
CER, Markdown tables, and another pretrained encoder fine-tuned exactly as the course's.

Used by ``label_efficiency.py``, ``oracle_targets.py`` and ``pretraining_variants.py`` (each inserts the
repository root into ``sys.path`` when run as a script, then imports ``benchmarks.ctc_curves``) and by
``tests/test_label_efficiency.py``; the curves themselves are ``speechlm.label_efficiency``'s.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from speechlm import label_efficiency
from speechlm.ssl.encoder import SpeechEncoder


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


def against_course(
    encoder: SpeechEncoder, *, workers: int | None = None, progress: bool = True, seed: int = 0
) -> tuple[list[dict], list[dict]]:
    """Fine-tune another pretrained ``encoder`` of the course's architecture exactly as the benchmark
    fine-tunes the course's (``label_efficiency.load_ctc_curve()``'s data and recipe, 25, 50 and 100
    labels) with fine-tuning seed ``seed``. The scratch arm does not depend on the pretrained weights,
    so the course encoder's cached one (of that seed) is reused and only ``encoder``'s runs train.
    Returns ``(rows, course_rows)``: this encoder's curve and the course encoder's."""
    from speechlm import pretrained

    architecture = pretrained.RECIPES["hubert"].hubert.encoder
    if encoder.config != architecture:
        raise ValueError(
            f"the encoder must have the course encoder's architecture to share its scratch arm: "
            f"{architecture}, got {encoder.config}"
        )
    recipe = label_efficiency.CTCCurveRecipe(seed=seed)
    course = label_efficiency.load_ctc_curve(recipe, progress=progress)
    labelled, dev, test = label_efficiency.course_ctc_items(max(recipe.budgets), progress)
    rows = label_efficiency.ctc_curve(
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
