"""``python -m silentscope``: the same as the ``silentscope`` command."""

from silentscope.cli import main

main()
