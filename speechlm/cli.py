"""The command line: ``python -m speechlm ...`` (or the ``speechlm`` script).

``course check``    fail when a notebook breaks the course's conventions
``course headers``  regenerate header cells, setup preambles and the README map
``course time``     execute notebooks headless and record run time, peak memory and headline
``course site``     build the website from the notebooks the tests executed (``build/site``)
``course zh-stale``  list the cells of the Chinese edition to translate (again), ``zh-stale NN`` for one
``course zh-new NN`` start notebook NN's Chinese edition as a copy of the English one
``corpus ...``      build, describe or speak the embedded corpus (see ``python -m speechlm corpus -h``)
``pretrain ...``    pretrain an encoder from a YAML config, also under torchrun (``pretrain -h``)
``cache build``     build the course's shared artefacts once, e.g. for a class (``--only corpus encoder``)
``cache info``      list what is cached where (writable and shared caches), with sizes
``cache pack``      pack the built cache into a verified archive (``cache pack OUT.tar``)
``cache fetch``     download such an archive, verify it and unpack it (``cache fetch [URL]``)
"""

from __future__ import annotations

import argparse
import sys


def _course(args: argparse.Namespace) -> int:
    from speechlm.dev import checks, course, headers, timing

    c = course.load_course()
    if args.action == "check":
        problems = checks.check_course(c)
        for problem in problems:
            print(problem)
        n = len(c.existing())
        n_zh = len(list(c.zh_notebooks_dir.glob("*.ipynb")))
        print(f"course check: {n} notebooks ({n_zh} in Chinese), {len(problems)} problem(s)")
        return 1 if problems else 0
    if args.action in ("zh-stale", "zh-new"):
        return _course_zh(c, args)
    if args.action == "headers":
        changed = headers.write_headers(c)
        for path in changed:
            print(f"updated {path.relative_to(c.root)}")
        print(f"course headers: {len(changed)} file(s) updated")
        return 0
    if args.action == "time":
        timing.time_notebooks(c, args.only or None)
        headers.write_headers(course.load_course(c.root))
        return 0
    if args.action == "site":
        from speechlm.dev.site.__main__ import main as site_main

        flags = ["--allow-missing"] * args.allow_missing + ["--open"] * args.open
        return site_main(["build", *flags])
    raise AssertionError(args.action)


def _course_zh(c, args: argparse.Namespace) -> int:
    from speechlm.dev import headers, zh, zh_sync

    if args.action == "zh-stale":
        lines = zh_sync.stale_cells(c, args.only or None)
        for line in lines:
            print(line)
        print(f"course zh-stale: {len(lines)} item(s) to translate")
        return 0
    if len(args.only) != 1:
        print("course zh-new: name one notebook, e.g. `python -m speechlm course zh-new 04`", file=sys.stderr)
        return 2
    try:
        created = zh.new_zh_notebook(c, args.only[0])
    except (ValueError, FileExistsError) as error:
        print(f"course zh-new: {error}", file=sys.stderr)
        return 2
    headers.write_headers(c)  # README.zh.md's map now links the new notebook
    for path in created:
        print(
            f"created {path.relative_to(c.root)}: translate its markdown cells (`course zh-stale` lists them)"
        )
    return 0


def _cache(args: argparse.Namespace) -> int:
    from speechlm import cache_archive, cache_fetch, course_cache

    if args.target is not None and args.action not in ("pack", "fetch"):
        print(
            f"cache {args.action}: takes no argument {args.target!r} (only pack and fetch do)",
            file=sys.stderr,
        )
        return 2
    try:
        if args.action == "build":
            course_cache.build(args.only, progress=not args.quiet)
        elif args.action == "pack":
            out = cache_archive.pack(args.target or cache_archive.ASSET, args.only, progress=not args.quiet)
            print(
                f"packed {out} ({out.stat().st_size / 1e6:.1f} MB): publish it as {cache_fetch.default_url()}"
            )
            return 0
        elif args.action == "fetch":
            written = cache_fetch.fetch(args.target, progress=not args.quiet)
            print(
                f"fetched and verified {len(written)} file(s)" if written else "everything is cached already"
            )
        print(course_cache.describe())
    except course_cache.UnknownArtefactError as error:
        print(f"cache {args.action}: {error}", file=sys.stderr)
        return 2
    except cache_archive.CacheArchiveError as error:
        fallback = "nothing was written; `python -m speechlm cache build` trains the cache locally instead"
        print(f"error: {error}; {fallback}" if args.action == "fetch" else f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # a cache folder that cannot be written or is not a folder
        print(f"cache {args.action}: {error}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m speechlm", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    course_parser = commands.add_parser("course", help="check, generate and time the course notebooks")
    course_parser.add_argument("action", choices=["check", "headers", "time", "site", "zh-stale", "zh-new"])
    course_parser.add_argument(
        "only",
        nargs="*",
        help="with `time`: only notebooks whose path contains one of these strings; with `zh-stale`: only "
        "these notebook numbers; with `zh-new`: the notebook number (NN)",
    )
    course_parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="with `site`: show unexecuted notebooks without outputs",
    )
    course_parser.add_argument("--open", action="store_true", help="with `site`: open it in a web browser")
    course_parser.set_defaults(func=_course)
    commands.add_parser("corpus", help="build, describe or speak the embedded corpus")
    cache_parser = commands.add_parser(
        "cache",
        help="build the course's shared artefacts once (for a class), list, pack or fetch them",
        description="build: the embedded-corpus splits, pretrained encoder, recogniser and notebook 12's "
        "label-efficiency point into SPEECHLM_CACHE (about 12 minutes on 2 cores); info: what is cached "
        "where; pack: the built cache into an archive with a manifest of SHA-256s and recipe keys; fetch: "
        "download such an archive, verify all of it, then unpack it into SPEECHLM_CACHE.",
    )
    cache_parser.add_argument("action", choices=["build", "info", "pack", "fetch"])
    cache_parser.add_argument(
        "target",
        nargs="?",
        metavar="OUT|URL",
        help="with `pack`: the archive to write (default speechlm-cache.tar); with `fetch`: the archive's "
        "URL or path (default $SPEECHLM_CACHE_URL, else this version's release asset)",
    )
    cache_parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="with `build` or `pack`: only these (corpus, encoder, asr, curves)",
    )
    cache_parser.add_argument("--quiet", action="store_true", help="no progress output")
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
