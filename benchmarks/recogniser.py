"""The course recogniser's fine-tuning recipe (``pretrained.load_asr()``, notebooks 12-16), side by side.

Fine-tunes the course's pretrained encoder with CTC on the recogniser's 1,000 labelled utterances
(``pretrained.ASR_RECIPES["ctc"]``'s data) once per setting, one after the other in this process,
and prints a Markdown table: wall time, dev CER every 100 steps, and the CER and WER on 120
utterances of unseen test speakers (the numbers notebook 12 prints)::

    python benchmarks/recogniser.py                          # the course's recipe and its predecessor
    python benchmarks/recogniser.py 800:5e-4 600:1e-3 450:1e-3   # STEPS:ENCODER_LR settings

Everything else (batch 16, head learning rate, warm-up, SpecAugment, seed) is the course recipe's.
"""

from __future__ import annotations

import dataclasses
import sys
import time

from speechlm import corpus, finetune, pretrained
from speechlm.ctc import ALPHABET, CharVocab

DEFAULT = ["800:5e-4", "600:1e-3"]  # the course's recipe version 1, and version 2 (the course's now)


def main(argv: list[str]) -> None:
    settings = []
    for arg in argv or DEFAULT:
        try:
            steps, lr = arg.split(":")
            settings.append((int(steps), float(lr)))
        except ValueError:
            raise SystemExit(
                f"expected STEPS:ENCODER_LR such as 600:1e-3, got {arg!r}\n\n{__doc__}"
            ) from None
    recipe = pretrained.ASR_RECIPES["ctc"]
    vocab = CharVocab(ALPHABET)
    encoder = pretrained.load(recipe.encoder)
    train, dev = pretrained._labelled(recipe, vocab)
    test = finetune.prepare(corpus.load("embedded", split="test", size=120, seed=0, progress=False), vocab)
    rows = []
    for steps, lr in settings:
        config = dataclasses.replace(recipe.finetune, steps=steps, lr_encoder=lr, eval_every=100)
        start = time.perf_counter()
        model, info = finetune.finetune_ctc(encoder, train, dev, vocab, config, progress=False)
        seconds = time.perf_counter() - start
        scores = finetune.evaluate_asr(model, test, vocab)
        history = ", ".join(f"{cer:.3f}" for _, cer in info["dev_cer"])
        rows.append(
            f"| {steps} | {lr:g} | {seconds:.0f} | {history} | {info['best_dev_cer']:.3f} "
            f"| {scores['cer']:.3f} | {scores['wer']:.3f} |"
        )
        print(rows[-1], flush=True)
    print("\n| steps | encoder lr | seconds | dev CER every 100 steps | best dev CER | test CER | test WER |")
    print("|---:|---:|---:|---|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main(sys.argv[1:])
