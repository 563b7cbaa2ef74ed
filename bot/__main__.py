"""``python -m bot`` is the same as the ``hoinghi`` command."""

from bot.cli import main

raise SystemExit(main())
