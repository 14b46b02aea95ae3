"""The command line: ``python -m speechlm ...`` (or the ``speechlm`` script).

``course check``    fail when a notebook breaks the course's conventions
``course headers``  regenerate header cells, setup preambles and the README map
``course time``     execute notebooks headless and record run time and headline
``corpus ...``      build, describe or speak the embedded corpus (see ``python -m speechlm corpus -h``)
``pretrain ...``    pretrain an encoder from a YAML config, also under torchrun (``pretrain -h``)
``cache build``     build the course's shared artefacts once, e.g. for a class (``--only corpus encoder``)
``cache info``      list what is cached where (writable and shared caches), with sizes
"""

from __future__ import annotations

import argparse
import sys


def _course(args: argparse.Namespace) -> int:
    from speechlm import course

    c = course.load_course()
    if args.action == "check":
        problems = course.check_course(c)
        for problem in problems:
            print(problem)
        n = len(c.existing())
        print(f"course check: {n} notebooks, {len(problems)} problem(s)")
        return 1 if problems else 0
    if args.action == "headers":
        changed = course.write_headers(c)
        for path in changed:
            print(f"updated {path.relative_to(c.root)}")
        print(f"course headers: {len(changed)} file(s) updated")
        return 0
    if args.action == "time":
        course.time_notebooks(c, args.only or None)
        course.write_headers(course.load_course(c.root))
        return 0
    raise AssertionError(args.action)


def _cache(args: argparse.Namespace) -> int:
    from speechlm import course_cache

    try:
        if args.action == "build":
            course_cache.build(args.only, progress=not args.quiet)
        print(course_cache.describe())
    except course_cache.UnknownArtefactError as error:
        print(f"cache {args.action}: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a cache folder that cannot be written or is not a folder
        print(f"cache {args.action}: {error}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m speechlm", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    course_parser = commands.add_parser("course", help="check, generate and time the course notebooks")
    course_parser.add_argument("action", choices=["check", "headers", "time"])
    course_parser.add_argument(
        "only", nargs="*", help="with `time`: only notebooks whose path contains one of these strings"
    )
    course_parser.set_defaults(func=_course)
    commands.add_parser("corpus", help="build, describe or speak the embedded corpus")
    cache_parser = commands.add_parser(
        "cache",
        help="build the course's shared artefacts once (for a class) or list what is cached",
        description="build: the embedded-corpus splits, pretrained encoder, recogniser and label-efficiency "
        "curves into SPEECHLM_CACHE (about 25 minutes on 2 cores); info: what is cached where.",
    )
    cache_parser.add_argument("action", choices=["build", "info"])
    cache_parser.add_argument(
        "--only", nargs="+", metavar="NAME", help="with `build`: only these (corpus, encoder, asr, curves)"
    )
    cache_parser.add_argument("--quiet", action="store_true", help="with `build`: no progress output")
    cache_parser.set_defaults(func=_cache)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["corpus"]:  # the corpus has its own parser; hand it everything after the word
        from speechlm.corpus.__main__ import main as corpus_main

        return corpus_main(argv[1:])
    if argv[:1] == ["pretrain"]:  # pretraining has its own parser too (speechlm.runner)
        from speechlm.runner.__main__ import main as pretrain_main

        return pretrain_main(argv[1:])
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
