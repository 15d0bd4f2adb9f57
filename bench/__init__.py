"""Benchmarks: our scan and rewrite against the read floor and against peer scanners, same repo, same run.

``make bench`` (``python -m bench``) builds or reuses a reproducible synthetic history
(:mod:`bench.synthetic`), or takes ``--repo PATH``, runs every tool several rounds and
prints medians, peak memory, ratios and recall on the planted secrets.
Not part of the installed package; nothing here is a test.
"""
