"""``python -m syncclients``: the ``syncclients`` command (see :mod:`syncclients.cli`)."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
