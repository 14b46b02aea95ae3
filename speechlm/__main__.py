"""``python -m speechlm``: see :mod:`speechlm.cli`."""

from speechlm.cli import main

raise SystemExit(main())
