"""``python -m speechlm.corpus``: build the embedded corpus's cache, or describe it.

``build``  generate (and cache) a split: ``--split train --size 3000 --seed 0 [--tasks digits commands]``
``info``   the tasks, speakers and phone inventory, and a few example sentences
``say``    speak a sentence and save it as a WAV file: ``say "hello there" out.wav [--speaker ID]``

A bad argument (an empty or non-English text, ``--size 0``, an unknown task
or speaker, an output that cannot be written) prints ``error: ...`` to stderr
and exits with status 2, as argparse does for a malformed command line.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

SAY_FORMATS = (".wav", ".flac")


def _build(args: argparse.Namespace) -> int:
    from speechlm import corpus

    utts = corpus.load("embedded", split=args.split, size=args.size, seed=args.seed, tasks=args.tasks)
    print("| task | utterances | speakers | mean_s | total_min | example |")
    print("|---|---|---|---|---|---|")
    for row in corpus.summarize(utts):
        print("| " + " | ".join(str(v) for v in row.values()) + " |")
    return 0


def _info(args: argparse.Namespace) -> int:
    from speechlm import corpus

    for split in corpus.SPLITS:
        spk = corpus.speakers(split)
        print(f"{split}: {len(spk)} speakers, {len({s.variant for s in spk})} voices, e.g. {spk[0].id}")
    print(f"tasks: {', '.join(corpus.TASKS)}")
    print(f"phones ({len(corpus.PHONES)}): {' '.join(corpus.PHONES)}")
    for item in corpus.sample_texts("train", args.examples, seed=0):
        print(f"  [{item['task']}] {item['text']}  ->  {item['labels']['zh']}")
    return 0


def _say(args: argparse.Namespace) -> int:
    from speechlm import audio, corpus

    output = Path(args.output)
    if output.suffix.lower() not in SAY_FORMATS:
        given = f"{output.suffix} files" if output.suffix else "a name without a suffix"
        raise ValueError(
            f"cannot write {output}: `say` writes {' or '.join(SAY_FORMATS)} files, not {given};"
            f" name it {output.with_suffix('.wav')}"
        )
    if not output.parent.is_dir():
        raise ValueError(f"cannot write {output}: the folder {output.parent} does not exist; create it first")
    if not os.access(output.parent, os.W_OK):
        raise ValueError(f"cannot write {output}: Permission denied; choose a folder you can write to")
    utt = corpus.synthesize(args.text, args.speaker)
    try:
        audio.save(output, utt.audio, utt.sample_rate)
    except OSError as exc:
        raise ValueError(
            f"cannot write {output}: {exc.strerror or exc}; choose a folder you can write to"
        ) from exc
    print(f"wrote {args.output}: {utt.duration_s:.2f} s, speaker {utt.speaker}")
    for word, start, end in utt.words:
        print(f"  {start:6.3f} {end:6.3f}  {word}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m speechlm.corpus", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="generate and cache a split of the embedded corpus")
    build.add_argument("--split", default="train", choices=["train", "dev", "test"])
    build.add_argument("--size", type=int, default=500)
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--tasks", nargs="*", default=None)
    build.set_defaults(func=_build)
    info = commands.add_parser("info", help="describe the tasks, speakers and phones")
    info.add_argument("--examples", type=int, default=8)
    info.set_defaults(func=_info)
    say = commands.add_parser("say", help="speak a sentence into a WAV file")
    say.add_argument("text")
    say.add_argument("output")
    say.add_argument("--speaker", default=None, help="a speaker id (default: the first training speaker)")
    say.set_defaults(func=_say)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a command; on a bad argument or an unwritable file print ``error: ...`` to stderr, return 2."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
