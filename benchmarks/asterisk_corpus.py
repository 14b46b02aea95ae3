"""Real recorded speech from a Debian package: Asterisk's English voice prompts as a folder corpus.

The telephone exchange Asterisk ships its voice prompts recorded by a voice talent (Allison Smith,
CC BY-SA 3.0), with the text of every prompt in ``core-sounds-en.txt``. Debian packages both, so
they come from a package registry like the rest of the course's dependencies: 568 prompts, 25
minutes of 8 kHz telephone speech from one speaker, mostly short (median 1.4 s: digits and number
words, letters, the NATO alphabet, voicemail and conference phrases), the scale of the Free Spoken
Digit Dataset. This script writes them in the layout of ``corpus.load("folder", root=...)``::

    apt-get download asterisk-core-sounds-en asterisk-core-sounds-en-wav   # 18 MB, no root needed
    for f in asterisk-core-sounds-en*.deb; do dpkg-deb -x "$f" asterisk; done
    python benchmarks/asterisk_corpus.py asterisk ~/data/asterisk-en
    python benchmarks/label_efficiency.py --corpus folder --root ~/data/asterisk-en

Kept: prompts whose text, once notes in brackets or parentheses are removed ("plus [+]" is "plus";
"(1 second of silence)" and "[sound of monkeys screaming]" are nothing), is made of letters and
punctuation only: a prompt that writes a digit or a key ("press 1", "press #") does not say how it
is spoken, so it is left out, as are prompts longer than ``--max-seconds``. Prompts are split at
random (seed 0) into train, dev and test, with every prompt of the same text (a few are recorded
under two names) in the same split, so no test sentence is heard in training. One voice: the test
split is new sentences, not a new speaker.
"""

from __future__ import annotations

import argparse
import gzip
import re
from pathlib import Path

import numpy as np
import soundfile as sf

from speechlm.corpus.folder import split_groups, write_folder
from speechlm.ctc import normalize_text

_NOTE = re.compile(r"\[[^\]]*\]|\([^)]*\)")  # "[+]", "(1 second of silence)"
_SPOKEN = re.compile(r"[A-Za-z .,;:!?'\"-]+")  # what a prompt may be written with, once notes are gone


def read_prompts(data: Path, language: str = "en") -> list[dict]:
    """Every recorded prompt with its transcript: ``name``, ``text`` (as written), ``path``."""
    listing = next(iter(sorted(data.rglob(f"core-sounds-{language}.txt*"))), None)
    sounds = next(iter(sorted((data / "usr/share/asterisk/sounds").glob(f"{language}*"))), None)
    if listing is None or sounds is None:
        raise FileNotFoundError(
            f"no core-sounds-{language}.txt(.gz) or usr/share/asterisk/sounds/{language}* under {data}: "
            f"extract asterisk-core-sounds-{language} and asterisk-core-sounds-{language}-wav there"
        )
    opener = gzip.open if listing.suffix == ".gz" else open
    with opener(listing, "rt", encoding="utf-8", errors="replace") as f:
        rows = [line.split(":", 1) for line in f if ":" in line and not line.startswith(";")]
    prompts = []
    for name, text in rows:
        path = sounds / f"{name.strip()}.wav"
        if path.exists():
            prompts.append({"name": name.strip(), "text": text.strip(), "path": path})
    if not prompts:
        raise FileNotFoundError(f"no .wav file under {sounds} matches a prompt of {listing}")
    return prompts


def spoken_text(text: str) -> str | None:
    """The words a prompt says, or ``None`` when its text does not tell (digits, keys, only notes)."""
    words = " ".join(_NOTE.sub(" ", text).split())
    return words if words and _SPOKEN.fullmatch(words) and normalize_text(words) else None


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data", type=Path, help="where the two packages were extracted (dpkg-deb -x)")
    p.add_argument("out", type=Path, help="where to write the folder corpus (must not exist)")
    p.add_argument("--language", default="en", help="en; es, fr, it, ru have their own packages")
    p.add_argument("--test", type=float, default=0.25, help="share of the texts held out for test")
    p.add_argument("--dev", type=float, default=0.125, help="share of the texts held out for dev")
    p.add_argument("--max-seconds", type=float, default=10.0, help="longer prompts are left out")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.out.exists():  # checked before reading the audio; write_folder checks it too
        raise SystemExit(f"{args.out} exists; give a new folder")
    prompts = []
    for x in read_prompts(args.data, args.language):
        text, seconds = spoken_text(x["text"]), sf.info(x["path"]).duration
        if text is not None and seconds <= args.max_seconds:
            prompts.append({**x, "text": text, "seconds": seconds, "key": normalize_text(text)})
    split = split_groups(sorted({x["key"] for x in prompts}), args.test, args.dev, args.seed)
    speaker = f"{args.language}-prompts"
    write_folder(
        args.out,
        [{"split": split[x["key"]], "speaker": speaker, "name": x["name"].replace("/", "-"),
          "audio": x["path"], "text": x["text"]} for x in prompts],
    )  # fmt: skip
    print("| split | prompts | minutes | median seconds |\n|---|---:|---:|---:|")
    for name in ("train", "dev", "test"):
        seconds = [x["seconds"] for x in prompts if split[x["key"]] == name]
        print(f"| {name} | {len(seconds)} | {sum(seconds) / 60:.1f} | {np.median(seconds):.1f} |")


if __name__ == "__main__":
    main()
