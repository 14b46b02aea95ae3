"""How fast the embedded corpus is made and loaded; prints a Markdown table.

    python benchmarks/corpus.py [--size 500]

Generation runs with the cache off (eSpeak NG in two server processes plus
resampling and alignment here), then the same corpus is written to a private
cache and loaded back. CPU seconds count this process and the eSpeak servers
(and their per-utterance children), so they show the cost independently of
how busy the machine is; wall time is what a learner waits.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=500, help="utterances to generate (default 500)")
    args = parser.parse_args()
    os.environ["SPEECHLM_CACHE"] = tempfile.mkdtemp(prefix="speechlm-bench-")

    from speechlm import corpus
    from speechlm.corpus import espeak

    corpus.synthesize("warm up")  # start the servers outside the timing
    espeak.close()
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    utts = corpus.load("embedded", split="train", size=args.size, seed=0, cache=False, progress=False)
    wall = time.perf_counter() - wall0
    espeak.close()  # reap the servers so that their CPU time is counted
    cpu = cpu_seconds() - cpu0
    audio_s = sum(u.duration_s for u in utts)

    corpus.load("embedded", split="train", size=args.size, seed=0, progress=False)  # generate + write cache
    t0 = time.perf_counter()
    cached = corpus.load("embedded", split="train", size=args.size, seed=0, progress=False)
    load_s = time.perf_counter() - t0
    assert len(cached) == len(utts)

    cores, load = os.cpu_count(), os.getloadavg()[0]
    print(
        f"Embedded corpus: {args.size} training utterances, {audio_s / 60:.1f} min of audio, {cores} cores\n"
    )
    print("| measure | value |")
    print("|---|---|")
    print(f"| generation, utterances per second (wall) | {len(utts) / wall:.1f} |")
    print(f"| generation, utterances per CPU second (all processes) | {len(utts) / cpu:.1f} |")
    print(f"| generation, seconds of audio per second (wall) | {audio_s / wall:.1f} |")
    print(f"| load from cache, seconds | {load_s:.3f} |")
    print(f"| load from cache, utterances per second | {len(cached) / load_s:.0f} |")
    print(f"| machine load average during the run (1 min; other jobs slow the wall times) | {load:.1f} |")


if __name__ == "__main__":
    main()
