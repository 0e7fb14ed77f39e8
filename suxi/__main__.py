"""``python -m suxi "a prompt"``: one generation from the command line (see :mod:`suxi.cli`)."""

from .cli import main

raise SystemExit(main())
