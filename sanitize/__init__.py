"""git-sanitize: purge secrets from git history, coordinate the push, rotate what leaked."""

__version__ = "0.1.0"
