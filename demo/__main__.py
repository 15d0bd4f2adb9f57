"""``python -m demo``: the whole purge on a generated repository, from scan to proven rotation."""

from demo.run import main

main()
