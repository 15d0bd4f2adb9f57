"""One word for a command line a person pastes: quoted so bash reads it back unchanged, on one line.

``shlex.quote`` is exact, but a word holding a newline (a path, a ref name from history) comes out as
a quoted string spanning two lines, which a reader takes for two commands and a line-by-line paste
breaks. Such a word is written in bash's ``$'…'`` form instead, with every control character (and
every byte that was not UTF-8) escaped; any other word is ``shlex.quote``'d as before.
"""

from __future__ import annotations

import shlex


def _escape(ch: str) -> str:
    code = ord(ch)
    if ch in "\\'":
        return "\\" + ch
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape): the byte itself
        return f"\\x{code - 0xDC00:02x}"
    if ch.isprintable():
        return ch
    # As UTF-8 bytes: bash's \u escapes depend on the reader's locale, \x escapes do not.
    return "".join(f"\\x{b:02x}" for b in ch.encode("utf-8"))


def quote(word: str) -> str:
    """``word`` as one shell word that bash turns back into exactly ``word``."""
    if all(ch.isprintable() for ch in word):
        return shlex.quote(word)
    return "$'" + "".join(_escape(ch) for ch in word) + "'"


__all__ = ["quote"]
