"""The scan stage: every unique blob and message reachable from every ref, read once."""
