"""Rotation engine: new value in the store (and the target), leaked value proven dead."""
