"""``python -m sanitize.cli``: the same as the ``git-sanitize`` console script."""

from sanitize.cli import main

main()
