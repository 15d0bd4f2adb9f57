"""Views of a blob the rules cannot read as is: JSON-escaped text, base64, URL-encoding, archives, UTF-16/32.

The detector runs its rules on *views*: the blob itself when it is text, plus
what decoding it yields — a gzip/bzip2/xz stream, zip and tar members, UTF-16 or
UTF-32 text, and base64 runs found in text (standalone runs, Kubernetes Secret
``data:`` values, Docker ``"auth"``, ``Authorization: Basic``). Each view knows
how it was reached (``encoding``, outermost first, e.g. ``("gzip", "base64")``)
and where a value found in it sits in the blob (its *anchor*):

- the blob itself (``RAW``): the value's own bytes are in the blob, possibly
  JSON-escaped or URL-encoded; the plan replaces exactly those bytes;
- an encoded literal (``bytes``, e.g. the base64 run): the plan replaces that
  literal, which removes everything decoded from it;
- nothing (``None``): the value is only visible after decompression or
  transcoding, so no ``--replace-text`` literal can remove it; the plan deletes
  the blob's path(s) instead (:data:`BLOB_LAYERS`).

Decoding is bounded so that a hostile blob cannot stall or exhaust a scan:
:data:`MAX_DEPTH` layers, :data:`MAX_DECODED` bytes in all per blob, and a
compression ratio cap (:data:`MAX_RATIO`) against zip bombs. Decoders run only
where a cheap probe says they may pay: a magic number, a byte-order mark or a
NUL pattern, a base64 run of :data:`MIN_BASE64_RUN` characters, or a site's
keyword found by the detector's one-pass prefilter.

Values never leave this module except inside views handed to the detector.
"""

from __future__ import annotations

import base64
import binascii
import bz2
import io
import lzma
import re
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import unquote_to_bytes

from sanitize.scan.rules import is_placeholder, is_secretish_name
from sanitize.secret import Secret

MAX_DEPTH: Final = 2  # decoding layers (gzip → tar, zip → base64, base64 → base64); JSON/URL escapes are free
MAX_DECODED: Final = 10 * 1024 * 1024  # decoded bytes per blob, all views together
MAX_RATIO: Final = 100  # decompressed/compressed beyond this (and beyond RATIO_FLOOR) is treated as a bomb
RATIO_FLOOR: Final = 1024 * 1024  # small archives may compress very well: up to this size the ratio is not checked
MIN_BASE64_RUN: Final = 32  # a standalone run shorter than this rarely hides a secret with its context
MAX_RUNS: Final = 4096  # standalone base64 runs decoded per view (minified code has many)
PRINTABLE_SHARE: Final = 0.95  # decoded bytes must be this printable to be scanned as text

#: Layers after which no literal in the blob holds the value: the blob is deleted whole.
BLOB_LAYERS: Final = frozenset({"gzip", "bzip2", "xz", "zip", "tar", "utf-16le", "utf-16be", "utf-32le", "utf-32be"})

#: Rules whose value sits in a URL, so ``%40`` in the blob is ``@`` in the secret.
URL_ENCODED_RULES: Final = frozenset({"dsn.password", "ds.BasicAuthDetector"})


class _Raw:
    """Anchor of the blob itself: a value's literal is its own span in the view."""

    def __repr__(self) -> str:
        return "RAW"


RAW: Final = _Raw()
Anchor = _Raw | bytes | None


@dataclass(frozen=True)
class View:
    """Bytes to run the rules on, how they were decoded, and where their values sit in the blob."""

    data: bytes
    path: str  # what path-restricted rules see: the blob's path, or an archive member's / a Secret key's name
    encoding: tuple[str, ...] = ()
    anchor: Anchor = RAW
    line: int | None = None  # the blob line every finding in this view is reported at (a base64 run's line)


@dataclass
class Budget:
    """Decoded bytes still allowed for one blob."""

    left: int = MAX_DECODED

    def take(self, n: int) -> bool:
        """Reserve ``n`` bytes; False (and nothing reserved) once the budget is spent."""
        if n > self.left:
            return False
        self.left -= n
        return True


@dataclass(frozen=True)
class Credential:
    """A value a decoding site reports directly (the password of a base64 ``user:password``)."""

    rule: str
    value: str
    line: int
    anchor: Anchor
    encoding: tuple[str, ...]


class Recovered(Secret):
    """A secret value plus the literal forms it sits in in the blob (what ``--replace-text`` must replace).

    ``literals`` holds the value itself when it sits in the blob as is, and its
    JSON-escaped, URL-encoded or base64 form otherwise.
    """

    __slots__ = ("encoding", "literals")

    def __init__(self, value: str, literals: tuple[Secret, ...], encoding: tuple[str, ...] = ()) -> None:
        super().__init__(value)
        self.literals = literals
        self.encoding = encoding

    def __reduce__(self) -> tuple[type[Recovered], tuple[str, tuple[Secret, ...], tuple[str, ...]]]:  # type: ignore[override]
        return (Recovered, (self.reveal(), self.literals, self.encoding))


# --- JSON string escapes ----------------------------------------------------------------------------

_JSON_ESCAPE = re.compile(rb'\\(?:u([0-9a-fA-F]{4})|(["\\/bfnrt]))')
_SIMPLE = {b'"': b'"', b"\\": b"\\", b"/": b"/", b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t"}


@dataclass(frozen=True)
class Unescaped:
    """A line with its JSON string escapes decoded, and the way back to the raw offsets."""

    text: bytes
    out_starts: tuple[int, ...]  # where each escape's output begins in ``text``
    raw_starts: tuple[int, ...]  # where that escape begins in the raw line
    out_lens: tuple[int, ...]
    raw_lens: tuple[int, ...]

    def raw_offset(self, pos: int, *, end: bool) -> int:
        """The raw offset of ``text`` offset ``pos`` (a start, or with ``end`` an end of a span)."""
        lo, hi = 0, len(self.out_starts)
        while lo < hi:  # the last escape whose output starts at or before pos (at pos, for an end: before)
            mid = (lo + hi) // 2
            if self.out_starts[mid] < pos or (not end and self.out_starts[mid] == pos):
                lo = mid + 1
            else:
                hi = mid
        k = lo - 1
        if k < 0:
            return pos
        inside = pos - self.out_starts[k]
        if inside < self.out_lens[k] or (end and inside == self.out_lens[k]):
            if end:
                return self.raw_starts[k] + self.raw_lens[k]
            return self.raw_starts[k]
        return self.raw_starts[k] + self.raw_lens[k] + inside - self.out_lens[k]


def json_unescape(raw: bytes) -> Unescaped | None:
    """``raw`` with JSON string escapes (``\\n``, ``\\"``, ``\\/``, ``\\uXXXX``) decoded; None if it has none.

    A value inside a JSON string (a chat transcript, a notebook output, JSONL)
    would otherwise run on past ``\\n`` or stop at ``\\/``. Lone surrogates are
    left escaped: they are not text.
    """
    if b"\\" not in raw:
        return None
    parts: list[bytes] = []
    out_starts: list[int] = []
    raw_starts: list[int] = []
    out_lens: list[int] = []
    raw_lens: list[int] = []
    pos = out = 0
    for m in _JSON_ESCAPE.finditer(raw):
        if m.group(1) is not None:
            code = int(m.group(1), 16)
            if 0xD800 <= code <= 0xDFFF:
                continue
            rep = chr(code).encode("utf-8")
        else:
            rep = _SIMPLE[m.group(2)]
        parts.append(raw[pos:m.start()])
        out += m.start() - pos
        out_starts.append(out)
        raw_starts.append(m.start())
        out_lens.append(len(rep))
        raw_lens.append(m.end() - m.start())
        parts.append(rep)
        out += len(rep)
        pos = m.end()
    if not out_starts:
        return None
    parts.append(raw[pos:])
    return Unescaped(b"".join(parts), tuple(out_starts), tuple(raw_starts), tuple(out_lens), tuple(raw_lens))


def url_decode(value: str) -> str | None:
    """The %-decoded value, or None when it holds no %XX escape."""
    if "%" not in value or not re.search(r"%[0-9A-Fa-f]{2}", value):
        return None
    return unquote_to_bytes(value).decode("utf-8", "surrogateescape")


# --- text probes ------------------------------------------------------------------------------------

_PRINTABLE = bytes(range(0x20, 0x7F)) + b"\t\n\r"


def is_text(data: bytes) -> bool:
    """Mostly printable ASCII or valid UTF-8 without NULs: worth running the rules on."""
    if not data or b"\0" in data:
        return False
    other = len(data.translate(None, _PRINTABLE))
    if other <= len(data) * (1 - PRINTABLE_SHARE):
        return True
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return sum(1 for c in text if not c.isprintable() and c not in "\t\n\r") <= len(text) * (1 - PRINTABLE_SHARE)


def _utf_without_bom(data: bytes) -> str | None:
    """UTF-16/32 recognised by its NUL pattern (ASCII-range text), or None."""
    probe = data[:4096]
    n = len(probe) - len(probe) % 4
    if n < 16:
        return None
    cols = [probe[i:n:4].count(0) for i in range(4)]
    quarter = n // 4
    high, low = quarter * 0.9, quarter * 0.1
    if cols[1] >= high and cols[2] >= high and cols[3] >= high and cols[0] <= low:
        return "utf-32le"
    if cols[0] >= high and cols[1] >= high and cols[2] >= high and cols[3] <= low:
        return "utf-32be"
    if cols[1] >= high and cols[3] >= high and cols[0] <= low and cols[2] <= low:
        return "utf-16le"
    if cols[0] >= high and cols[2] >= high and cols[1] <= low and cols[3] <= low:
        return "utf-16be"
    return None


_BOMS: Final = ((b"\xff\xfe\x00\x00", "utf-32le"), (b"\x00\x00\xfe\xff", "utf-32be"),
                (b"\xff\xfe", "utf-16le"), (b"\xfe\xff", "utf-16be"))


def unicode_encoding(data: bytes) -> tuple[str, int] | None:
    """(codec, BOM length) when ``data`` is UTF-16/UTF-32 text, with or without a byte-order mark."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return codec, len(bom)
    if b"\0" in data[:4096]:
        guessed = _utf_without_bom(data)
        if guessed is not None:
            return guessed, 0
    return None


# --- containers -------------------------------------------------------------------------------------


def _allowed(compressed: int, budget: Budget) -> int:
    return min(budget.left, max(RATIO_FLOOR, MAX_RATIO * compressed))


def _inflate(data: bytes, make: Callable[[], object], budget: Budget) -> bytes | None:
    """A stream decompressed up to the ratio cap and the budget (concatenated members included)."""
    cap = _allowed(len(data), budget)
    out: list[bytes] = []
    size = 0
    rest = data
    try:
        while rest and size < cap:
            dec = make()
            chunk = dec.decompress(rest, cap - size)  # type: ignore[attr-defined]
            out.append(chunk)
            size += len(chunk)
            if not getattr(dec, "eof", False):
                break
            rest = dec.unused_data  # type: ignore[attr-defined]
    except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError):
        if not out:
            return None
    result = b"".join(out)
    return result if result and budget.take(len(result)) else None


def _zip_members(data: bytes, budget: Budget) -> Iterator[tuple[str, bytes]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for info in zf.infolist():
                if info.is_dir() or info.flag_bits & 0x1:  # encrypted: nothing to read without the password
                    continue
                if info.file_size > max(RATIO_FLOOR, MAX_RATIO * max(info.compress_size, 1)):
                    continue  # a bomb member
                if info.file_size > budget.left:
                    return
                with zf.open(info) as member:
                    content = member.read(budget.left + 1)
                if len(content) > budget.left or not budget.take(len(content)):
                    return
                yield info.filename, content
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError, OSError,
            ValueError, zlib.error, lzma.LZMAError):
        return


def _tar_members(data: bytes, budget: Budget) -> Iterator[tuple[str, bytes]]:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
            for info in tf:
                if not info.isfile():
                    continue
                if info.size > budget.left:
                    return
                member = tf.extractfile(info)
                if member is None:
                    continue
                content = member.read()
                if not budget.take(len(content)):
                    return
                yield info.name, content
    except (tarfile.TarError, EOFError, OSError, ValueError):
        return


def container_views(data: bytes, path: str, encoding: tuple[str, ...], anchor: Anchor, budget: Budget,
                    line: int | None = None) -> Iterator[View]:
    """Text views inside ``data`` when it is compressed, an archive, or UTF-16/32 text.

    Inside a compressed blob no literal holds a value (anchor None) unless the whole
    container came from a base64 literal, which then is the anchor.
    """
    if len(encoding) >= MAX_DEPTH:
        return
    inner_anchor: Anchor = None if anchor is RAW else anchor
    uni = unicode_encoding(data)
    if uni is not None:
        codec, bom = uni
        if budget.take(len(data)):
            text = data[bom:].decode(codec, "replace").encode("utf-8", "surrogateescape")
            yield View(text, path, (*encoding, codec), inner_anchor, line)
        return
    streams: tuple[tuple[bytes, str, Callable[[], object]], ...] = (
        (b"\x1f\x8b", "gzip", lambda: zlib.decompressobj(wbits=31)),
        (b"BZh", "bzip2", bz2.BZ2Decompressor),
        (b"\xfd7zXZ\x00", "xz", lzma.LZMADecompressor),
    )
    for magic, name, make in streams:
        if data.startswith(magic):
            inner = _inflate(data, make, budget)
            if inner is not None:
                yield from _inner_views(inner, _strip_suffix(path), (*encoding, name), inner_anchor, budget, line)
            return
    if data.startswith(b"PK\x03\x04"):
        for member, content in _zip_members(data, budget):
            yield from _inner_views(content, member, (*encoding, "zip"), inner_anchor, budget, line)
        return
    if len(data) > 262 and data[257:262] == b"ustar":
        for member, content in _tar_members(data, budget):
            yield from _inner_views(content, member, (*encoding, "tar"), inner_anchor, budget, line)


def _inner_views(content: bytes, path: str, encoding: tuple[str, ...], anchor: Anchor, budget: Budget,
                 line: int | None) -> Iterator[View]:
    if b"\0" not in content[:8192] and unicode_encoding(content) is None:
        yield View(content, path, encoding, anchor, line)
    else:
        yield from container_views(content, path, encoding, anchor, budget, line)


def _strip_suffix(path: str) -> str:
    # dump.sql.gz holds dump.sql: path-restricted rules see the inner name.
    for suffix in (".gz", ".gzip", ".bz2", ".xz", ".tgz"):
        if path.lower().endswith(suffix):
            return path[: -len(suffix)] + (".tar" if suffix == ".tgz" else "")
    return path


# --- base64 -----------------------------------------------------------------------------------------


def b64decode(run: bytes) -> bytes | None:
    """Standard or URL-safe base64, padding optional; None if it is not base64."""
    compact = re.sub(rb"\s+", b"", run)
    if len(compact) % 4 == 1:
        return None
    padded = compact.rstrip(b"=") + b"=" * (-len(compact.rstrip(b"=")) % 4)
    alt = b"-_" if (b"-" in compact or b"_" in compact) else None
    try:
        return base64.b64decode(padded, altchars=alt, validate=True)
    except (binascii.Error, ValueError):
        return None


@dataclass(frozen=True)
class Site:
    """Where base64 sits in text, and what its decoded form is.

    ``yields``: ``"text"`` — decoded text the rules then scan; ``"password"`` —
    a ``user:password`` pair whose password is reported as rule ``id``;
    ``"value"`` — the decoded value itself is the secret (a Kubernetes Secret's
    ``data:`` entry under a credential-like key, a base64 password element). ``keywords`` feed the
    detector's prefilter; a site runs only on the lines that hold one (or, with
    ``whole``, on the whole view).
    """

    id: str
    yields: str
    regex: re.Pattern[bytes]
    keywords: tuple[str, ...] = ()
    hs_patterns: tuple[str, ...] = ()
    whole: bool = False
    keyed: bool = False  # a "value" counts only under a credential-like key (Kubernetes data: keys)
    description: str = ""
    finder: Callable[[bytes, list[int]], Iterator[tuple[int, int, str]]] | None = field(default=None, compare=False)


_K8S_KIND = re.compile(rb"(?m)^[ \t-]*kind:[ \t]*[\"']?Secret[\"']?[ \t]*\r?$")
_K8S_DATA = re.compile(rb"(?m)^(?P<ind>[ \t-]*)data:[ \t]*\r?$")
_K8S_JSON_KIND = re.compile(rb'"kind"[ \t]*:[ \t]*"Secret"')
_K8S_JSON_DATA = re.compile(rb'"data"\s*:\s*\{(?P<body>[^{}]*)\}')
_K8S_JSON_ENTRY = re.compile(rb'"(?P<key>[\w.-]+)"\s*:\s*"(?P<b64>[A-Za-z0-9+/]+={0,2})"')
_K8S_ENTRY = re.compile(rb"^(?P<ind>[ \t]+)(?P<key>[\w.-]+):[ \t]*[\"']?(?P<b64>[A-Za-z0-9+/]+={0,2})[\"']?[ \t]*\r?$")


_B64_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_WS = _B64_CHARS + b"= \t\r\n"
_HEX_CHARS = b"0123456789abcdefABCDEF"


def whole_base64(data: bytes) -> tuple[int, int] | None:
    """The span of a file that is nothing but (wrapped) base64, probed on its first bytes first."""
    if len(data) < MIN_BASE64_RUN or len(data) > 1 << 20 or data[:256].translate(None, _B64_WS):
        return None
    if data.translate(None, _B64_WS):
        return None
    start = len(data) - len(data.lstrip())
    return start, len(data.rstrip())


def _kubernetes_data(data: bytes, _ends: list[int]) -> Iterator[tuple[int, int, str]]:
    """The base64 values of a Kubernetes Secret manifest's ``data:`` mapping (and their keys), YAML or
    JSON (``kubectl get secret -o json``)."""
    if _K8S_JSON_KIND.search(data):
        for block in _K8S_JSON_DATA.finditer(data):
            for m in _K8S_JSON_ENTRY.finditer(data, block.start("body"), block.end("body")):
                yield m.start("b64"), m.end("b64"), m.group("key").decode("utf-8", "replace")
    if not _K8S_KIND.search(data):
        return
    for block in _K8S_DATA.finditer(data):
        indent = len(block.group("ind"))
        pos = block.end() + 1
        while pos < len(data):
            end = data.find(b"\n", pos)
            end = len(data) if end < 0 else end
            line = data[pos:end]
            if line.strip():
                entry = _K8S_ENTRY.match(line)
                if len(line) - len(line.lstrip()) <= indent or entry is None:
                    break
                if len(entry.group("ind")) > indent:
                    yield (pos + entry.start("b64"), pos + entry.end("b64"),
                           entry.group("key").decode("utf-8", "replace"))
            pos = end + 1


#: Where base64 hides credentials in text, most specific first.
SITES: Final[tuple[Site, ...]] = (
    Site("kubernetes.secret-data", "value", re.compile(rb""),
         hs_patterns=(r"kind:[ \t]*[\"']?Secret", r"\"kind\"[ \t]*:[ \t]*\"Secret\""),
         whole=True, keyed=True, finder=_kubernetes_data,
         description="A Kubernetes Secret's data: value (base64) under a credential-like key; "
                     "its text is scanned too."),
    Site("docker.auth", "password",
         re.compile(rb"\"auth\"[ \t]*:[ \t]*\"(?P<b64>[A-Za-z0-9+/]{8,}={0,2})\""), keywords=('"auth"',),
         description="A Docker config.json / .dockercfg auth entry: base64 of user:password."),
    Site("http.basic-auth", "password",
         re.compile(rb"(?i)(?<![A-Za-z0-9])basic[ \t]+(?P<b64>[A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=])"),
         hs_patterns=(r"(?i)basic[ \t]+[A-Za-z0-9+/]{8}",),  # not every "basic" in prose: one with a run after it
         description="HTTP Basic credentials (Authorization: Basic …): base64 of user:password."),
    Site("xml.base64-password", "value",
         re.compile(rb"(?i)<(?P<tag>[\w:.-]*pass[\w:.-]*)[^<>]*\bencoding=[\"']base64[\"'][^<>]*>[ \t]*"
                    rb"(?P<b64>[A-Za-z0-9+/]{8,}={0,2})[ \t]*</(?P=tag)>"),
         keywords=("base64",),
         description="A password element stored base64-encoded (FileZilla <Pass encoding=\"base64\">)."),
    Site("base64", "text",
         re.compile(rb"(?<![A-Za-z0-9+/=_-])(?P<b64>[A-Za-z0-9+/]{%d,}={0,2})(?![A-Za-z0-9+/=_-])" % MIN_BASE64_RUN),
         # A keyword, then within 80 characters a run: as cheap for the prefilter as the keywords alone,
         # and it fires on a few lines instead of every line that says "key" or "token".
         hs_patterns=(r"(?i)(?:base64|b64|secret|passw|token|cred|key|auth|cert|config|data)[^\n]{0,80}"
                      rf"[^A-Za-z0-9+/\n][A-Za-z0-9+/]{{{MIN_BASE64_RUN}}}",),
         description="A standalone base64 run that decodes to text (scanned with every rule)."),
)


def line_spans(data: bytes, ends: list[int]) -> list[tuple[int, int]]:
    """The distinct lines (start, end without the newline) holding the prefilter match ends ``ends``."""
    spans: list[tuple[int, int]] = []
    le = -1
    for end in sorted(ends):
        if end <= le:
            continue  # another keyword on the line we already have
        ls = data.rfind(b"\n", 0, end - 1 if end > 0 and data[end - 1:end] == b"\n" else end) + 1
        le = data.find(b"\n", ls)
        le = len(data) if le < 0 else le
        if not spans or spans[-1][0] != ls:
            spans.append((ls, le))
    return spans


def site_spans(site: Site, data: bytes, lines: list[int]) -> Iterator[tuple[int, int, str]]:
    """(start, end, key) of each base64 literal of ``site`` in ``data``; ``lines``: keyword end offsets."""
    if site.finder is not None:
        yield from site.finder(data, lines)
        return
    for ls, le in line_spans(data, lines) if lines else [(0, len(data))]:
        for m in site.regex.finditer(data, ls, le):
            yield m.start("b64"), m.end("b64"), ""


def base64_children(view: View, hits: dict[Site, list[int]], budget: Budget) -> Iterator[View | Credential]:
    """Views decoded from the base64 in ``view`` (and credentials the sites report), within the budget."""
    if len(view.encoding) >= MAX_DEPTH:
        return
    enc = (*view.encoding, "base64")
    done: set[tuple[int, int]] = set()
    spans: list[tuple[Site, int, int, str]] = [(s, a, b, k) for s, lines in hits.items()
                                               for a, b, k in site_spans(s, view.data, lines)]
    whole = whole_base64(view.data)
    if whole is not None:
        spans.append((SITES[-1], whole[0], whole[1], ""))
    for site, start, end, key in spans[:MAX_RUNS]:
        if (start, end) in done:
            continue
        raw = view.data[start:end]
        if len(raw) >= MIN_BASE64_RUN and not raw.strip(_HEX_CHARS):
            continue  # a hash or an id: valid base64, never text
        decoded = b64decode(raw)
        if not decoded or len(decoded) < 4:
            continue
        done.add((start, end))
        anchor = raw if view.anchor is RAW else view.anchor
        line = view.line if view.line is not None else view.data.count(b"\n", 0, start) + 1
        if not is_text(decoded):
            # An image in a notebook, a key's raw bytes: only a container is worth more work (it charges
            # the budget for what it inflates), so binary payloads cannot starve the runs after them.
            yield from container_views(decoded, key or view.path, enc, anchor, budget, line)
            continue
        if not budget.take(len(decoded)):
            return
        if site.yields == "password":
            user, sep, password = decoded.decode("utf-8", "surrogateescape").partition(":")
            if sep and user and len(password) >= 4 and "\n" not in password and not is_placeholder(password):
                yield Credential(site.id, password, line, anchor, enc)
            continue
        if site.yields == "value" and (not site.keyed or (key and is_secretish_name(key))):
            value = decoded.decode("utf-8", "surrogateescape").rstrip("\r\n")
            if value and "\n" not in value and len(value) >= 4 and not is_placeholder(value):
                yield Credential(site.id, value, line, anchor, enc)
        yield View(decoded, key or "", enc, anchor, line)
