"""Memory and time of the shared encoder's pretraining where memory is short (Binder's 2 GB), side by side.

Runs the first ``STEPS`` updates of the course encoder's HuBERT iteration 1 (``pretrained.RECIPES
["hubert"]``: its 1,000 utterances, batch 16, its encoder) once per setting, each in a fresh process
so that no setting inherits another's heap, and prints a Markdown table: peak PSS of the process
(sampled every 50 ms), seconds per step, and a checksum of the trained weights (the settings must
train the same model)::

    python benchmarks/pretraining_memory.py        # 60 steps per setting
    python benchmarks/pretraining_memory.py 120

The settings: memory plentiful (nothing traded); the C heap trimmed after every step
(``fit(release_memory=True)``); every Transformer block recomputed in the backward pass
(``SpeechEncoder.checkpoint_blocks``) without trimming; both, which is what ``pretrain_hubert`` does
where ``workers.memory_is_short()``.
"""

from __future__ import annotations

import json
import subprocess
import sys

SETTINGS = {
    "memory plentiful": {"short": False, "recompute": False},
    "heap trimmed every step": {"short": True, "recompute": False},
    "blocks recomputed, heap not trimmed": {"short": False, "recompute": True},
    "trimmed + blocks recomputed (Binder)": {"short": True, "recompute": True},
}

_CHILD = """
import dataclasses, json, os, sys, threading, time
import torch
from speechlm import pretrained, workers
from speechlm.dev.memory import pss_mb
from speechlm.ssl import SpeechEncoder, pretrain

steps, short, recompute = int(sys.argv[1]), sys.argv[2] == "1", sys.argv[3] == "1"
workers.memory_is_short = lambda: short  # the heap trimmed after every step, and the blocks recomputed
# the encoder's switch pinned: recompute alone, or trim alone
SpeechEncoder.checkpoint_blocks = property(lambda self: recompute, lambda self, value: None)
peak = [0.0]

def sample():
    while True:
        peak[0] = max(peak[0], pss_mb([os.getpid()]))
        time.sleep(0.05)

threading.Thread(target=sample, daemon=True).start()
recipe = pretrained.RECIPES["hubert"]
hubert = dataclasses.replace(recipe.hubert, steps=steps, iteration2_steps=0)
seconds = []
original = pretrain.fit

def timed_fit(*args, **kwargs):
    history = original(*args, **kwargs)
    seconds.append(history.time_s)
    return history

pretrain.fit = timed_fit
encoder, info = pretrain.pretrain_hubert(pretrained._training_audio(recipe), hubert, progress=False)
checksum = sum(float(t.double().abs().sum()) for t in encoder.state_dict().values())
print(json.dumps({"peak_mb": peak[0], "s_per_step": seconds[0] / steps, "checksum": checksum}))
"""


def main(argv: list[str]) -> None:
    try:
        steps = int(argv[0]) if argv else 60
    except ValueError:
        raise SystemExit(f"expected a number of steps, got {argv[0]!r}\n\n{__doc__}") from None
    rows = []
    for name, setting in SETTINGS.items():
        flags = [str(int(setting["short"])), str(int(setting["recompute"]))]
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(steps), *flags], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise SystemExit(f"{name}: the run failed\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(
            f"| {name} | {result['peak_mb']:,.0f} | {result['s_per_step']:.3f} | {result['checksum']:.6f} |"
        )
        print(rows[-1], flush=True)
    print(f"\n{steps} steps of the course encoder's pretraining, one fresh process per setting:\n")
    print("| setting | peak PSS (MB) | seconds per step | weights checksum |")
    print("|---|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main(sys.argv[1:])
