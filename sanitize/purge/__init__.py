"""The purge stages after the scan, in order: plan, rewrite, approve, push, verify, guard (and restore)."""
