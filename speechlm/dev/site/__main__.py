"""``python -m speechlm.dev.site build [--allow-missing] [--open]``: build the course website."""

from __future__ import annotations

import argparse
import sys

from speechlm.dev.site.build import EditionMismatchError, MissingExecutedError, build_site


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m speechlm.dev.site", description=__doc__)
    parser.add_argument("action", choices=["build"])
    parser.add_argument(
        "--allow-missing", action="store_true", help="show notebooks not executed yet without outputs"
    )
    parser.add_argument("--open", action="store_true", help="open the home page in a web browser")
    parser.add_argument("--verbose", action="store_true", help="Sphinx's progress output too")
    args = parser.parse_args(argv)
    try:
        index = build_site(allow_missing=args.allow_missing, quiet=not args.verbose)
    except (MissingExecutedError, EditionMismatchError) as error:
        print(f"site build: {error}", file=sys.stderr)
        return 2
    print(f"site: open {index}")
    if args.open:
        import webbrowser

        webbrowser.open(index.as_uri())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
