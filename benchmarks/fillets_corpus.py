"""Real recorded speech from a Debian package: Fish Fillets NG's voiced dialogues as a folder corpus.

The game *Fish Fillets NG* ships its dialogues recorded by voice actors, one Ogg Vorbis file per
line, with the text of every line in Lua scripts. Debian packages them (GPL), so they come from a
package registry like the rest of the course's dependencies. The Dutch dubbing is complete: 1,528
lines (91 minutes) spoken by two actors, the small fish and the big fish. This script writes them in
the layout of ``corpus.load("folder", root=...)`` (``{split}/{speaker}/{line}.ogg`` with a ``.txt``
transcript beside each), split by game level so that the test and dev sentences are never heard in
training (the two voices are the same in every split: there are only two)::

    apt-get download fillets-ng-data fillets-ng-data-nl      # about 100 MB, no root needed
    for f in fillets-ng-data*.deb; do dpkg-deb -x "$f" fillets; done
    python benchmarks/fillets_corpus.py fillets/usr/share/games/fillets-ng ~/data/fillets-nl
    python benchmarks/label_efficiency.py --corpus folder --root ~/data/fillets-nl

``--language cs`` does the same with the Czech original (package ``fillets-ng-data-cs``).
Lines shorter than half a second (a few files are empty) are left out.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import soundfile as sf

from speechlm.corpus.folder import split_groups, write_folder

# dialogId("id", "font", "English text") followed by dialogStr("the line in this language")
_DIALOG = re.compile(
    r'dialogId\(\s*"([^"]+)"\s*,\s*"([^"]*)"\s*,\s*"(?:[^"\\]|\\.)*"\s*\)\s*'
    r'dialogStr\(\s*"((?:[^"\\]|\\.)*)"\s*\)'
)
SPEAKERS = {"font_small": "small-fish", "font_big": "big-fish"}


def read_lines(data: Path, language: str) -> list[dict]:
    """Every recorded line of ``language`` that has a transcript: level, id, speaker, text, path."""
    scripts = sorted((data / "script").glob(f"*/dialogs_{language}.lua"))
    if not scripts:
        raise FileNotFoundError(
            f"no script/*/dialogs_{language}.lua under {data}: pass the extracted fillets-ng folder "
            "(usr/share/games/fillets-ng of the fillets-ng-data package)"
        )
    lines = []
    for script in scripts:
        level = script.parent.name
        for line_id, font, text in _DIALOG.findall(script.read_text(encoding="utf-8")):
            path = data / "sound" / level / language / f"{line_id}.ogg"
            if path.exists() and font in SPEAKERS:
                text = text.replace('\\"', '"').replace("\\\\", "\\")
                speaker = SPEAKERS[font]
                lines.append({"level": level, "id": line_id, "speaker": speaker, "text": text, "path": path})
    if not lines:
        raise FileNotFoundError(
            f"no recorded {language!r} lines under {data / 'sound'}: "
            f"extract fillets-ng-data-{language} there too"
        )
    return lines


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data", type=Path, help="the extracted usr/share/games/fillets-ng folder")
    p.add_argument("out", type=Path, help="where to write the folder corpus (must not exist)")
    p.add_argument("--language", default="nl", help="nl (Dutch dubbing) or cs (Czech original)")
    p.add_argument("--test", type=float, default=0.15, help="share of the levels held out for test")
    p.add_argument("--dev", type=float, default=0.1, help="share of the levels held out for dev")
    p.add_argument("--min-seconds", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.out.exists():  # checked before the slow part; write_folder checks it too
        raise SystemExit(f"{args.out} exists; give a new folder")
    lines = [{**x, "seconds": sf.info(x["path"]).duration} for x in read_lines(args.data, args.language)]
    lines = [x for x in lines if x["seconds"] >= args.min_seconds]
    split = split_groups(sorted({x["level"] for x in lines}), args.test, args.dev, args.seed)
    write_folder(
        args.out,
        [{"split": split[x["level"]], "speaker": x["speaker"], "name": f"{x['level']}-{x['id']}",
          "audio": x["path"], "text": x["text"]} for x in lines],
    )  # fmt: skip
    counts: dict[str, list[float]] = {}
    for x in lines:
        counts.setdefault(split[x["level"]], []).append(x["seconds"])
    print("| split | levels | lines | minutes |\n|---|---:|---:|---:|")
    for name in ("train", "dev", "test"):
        levels = sum(1 for s in split.values() if s == name)
        print(f"| {name} | {levels} | {len(counts.get(name, []))} | {sum(counts.get(name, [])) / 60:.1f} |")


if __name__ == "__main__":
    main()
