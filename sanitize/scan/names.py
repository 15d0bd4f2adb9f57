"""Secrets in names: ref names, path components and identities, checked with the scan's own rules.

A token pasted as a branch name (``git checkout -b ghp_…``), committed as a file or directory
name, or set as an author name or email is as leaked as one in a file, and more visible: every
clone lists it. The scan reads the names once (refs from ``for-each-ref``, every tree entry name
from the reachable trees, every author/committer/tagger from ``git log``), runs the provider-format
rules over them in one pass (generic ``NAME = value`` rules are left out: a name is not an
assignment), and reports one finding per value and kind: ``ref-name``, ``path-name`` or
``identity``. Findings carry the name shown redacted (:mod:`sanitize.names`); the returned
:class:`~sanitize.names.Redactor` redacts every other name the report holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from sanitize import git
from sanitize.names import Redactor
from sanitize.scan import context
from sanitize.scan.detectors import Detector
from sanitize.scan.history import ALL_REFS, RefInfo
from sanitize.scan.report import Finding
from sanitize.secret import Secret

NAME_KINDS: tuple[str, ...] = ("ref-name", "path-name", "identity")
_TAGGER = re.compile(r"(.*)<([^>]*)>")
_MAX_PATHS = 20  # full paths kept per path-name finding (for the plan's "renamed" list)


@dataclass
class NameSources:
    """The names a scan's workers collected while reading: what :func:`scan_names` would otherwise
    read again (every reachable tree, ``git log`` for identities, the refs' tag objects)."""

    entries: set[str] = field(default_factory=set)  # every tree entry name of the reachable trees
    people: dict[str, str] = field(default_factory=dict)  # author/committer name or email -> first commit (log order)
    taggers: dict[str, list[str]] = field(default_factory=dict)  # tag object -> its tagger's name and email


_ENTRY = {20: re.compile(rb"[0-7]+ ([^\0]*)\0.{20}", re.S), 32: re.compile(rb"[0-7]+ ([^\0]*)\0.{32}", re.S)}


def tree_names(data: bytes, oid: str) -> list[bytes]:
    """The entry names of one tree object (``<mode> <name>\\0<binary id>``; ids of 20 or 32 bytes)."""
    return _ENTRY[len(oid) // 2].findall(data)


def _split_ident(ident: bytes) -> tuple[bytes, bytes]:
    # As git's split_ident_line: the name ends before " <" (trailing blanks trimmed), the email inside <>.
    lt = ident.find(b"<")
    if lt < 0:
        return b"", b""
    gt = ident.find(b">", lt + 1)
    if gt < 0:
        return b"", b""
    return ident[:lt].rstrip(), ident[lt + 1:gt]


def commit_people(data: bytes) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(author name, author email, committer name, committer email) of a commit object, as
    ``git log --format=%an%ae%cn%ce`` shows them, and the commit's parents.

    The header is re-encoded to UTF-8 when it names another encoding, as git log does.
    """
    head = data.split(b"\n\n", 1)[0]
    author = committer = b""
    encoding = b""
    parents: list[str] = []
    for line in head.split(b"\n"):
        if line.startswith(b"parent "):
            parents.append(line[7:].decode("ascii", "replace"))
        elif line.startswith(b"author "):
            author = line[7:]
        elif line.startswith(b"committer "):
            committer = line[10:]
        elif line.startswith(b"encoding "):
            encoding = line[9:].strip()
    parts = (*_split_ident(author), *_split_ident(committer))
    return tuple(_text(p, encoding) for p in parts), tuple(parents)


def _text(raw: bytes, encoding: bytes) -> str:
    if encoding and encoding.lower().replace(b"-", b"") != b"utf8":
        try:
            return raw.decode(encoding.decode("ascii"))
        except (LookupError, UnicodeDecodeError, UnicodeEncodeError):
            pass
    return raw.decode("utf-8", "surrogateescape")


def tag_people(data: bytes) -> list[str]:
    """The tagger's name and email of an annotated tag object (empty parts left out)."""
    head = data.partition(b"\n\n")[0].decode("utf-8", "surrogateescape")
    out: list[str] = []
    for line in git.lines(head):
        if line.startswith("tagger "):
            who = _TAGGER.match(line[len("tagger "):])
            if who:
                out.extend(p for p in (who.group(1).strip(), who.group(2)) if p)
    return out


@dataclass
class NameScan:
    """The name findings and the redactor that hides their values everywhere else."""

    findings: list[Finding]
    redactor: Redactor
    values: dict[str, Secret]  # finding id → value (for the plan; never written)
    holders: dict[str, list[str]]  # finding id → the names holding the value, shown redacted

    def redact(self, findings: Iterable[Finding], refs: dict[str, str]) -> tuple[list[Finding], dict[str, str]]:
        """Other findings and the ref table with every name shown redacted."""
        if not self.redactor:
            return list(findings), refs
        show = self.redactor.show
        out = [replace(f, path=show(f.path) if f.path else f.path, refs=tuple(show(r) for r in f.refs))
               for f in findings]
        return out, self.redactor.show_keys(refs)


def _identities(repo: Path, refs: list[RefInfo], revs: Sequence[str]) -> dict[str, str]:
    """Every author/committer name and email in the walk, and every tagger of a scanned ref's tag,
    → a commit or tag object that has it."""
    from sanitize.scan.engine import read_objects

    seen: dict[str, str] = {}
    text = git.run(["log", "--format=%H%x00%an%x00%ae%x00%cn%x00%ce", *revs], cwd=repo).stdout
    for line in git.lines(text.decode("utf-8", "surrogateescape")):
        sha, *people = line.split("\0")
        for p in people:
            if p:
                seen.setdefault(p, sha)
    tags = sorted({r.target for r in refs if r.commit != r.target and r.target})
    for oid, kind, data in read_objects(repo, tags):
        if kind != "tag":
            continue
        head = data.partition(b"\n\n")[0].decode("utf-8", "surrogateescape")
        for line in git.lines(head):
            if line.startswith("tagger "):
                who = _TAGGER.match(line[len("tagger "):])
                if who:
                    for p in (who.group(1).strip(), who.group(2)):
                        if p:
                            seen.setdefault(p, oid)
    return seen


def _known_people(refs: list[RefInfo], known: NameSources) -> dict[str, str]:
    """:func:`_identities` from what the workers read: commits in walk order, then the refs' taggers."""
    seen = dict(known.people)
    for oid in sorted({r.target for r in refs if r.commit != r.target and r.target}):
        for p in known.taggers.get(oid, ()):
            seen.setdefault(p, oid)
    return seen


def _entry_names(repo: Path, revs: Sequence[str], *, walk: bool) -> set[str]:
    """Every name a tree holds: the reachable trees (``walk``), or every tree in the object database.

    Listing the database's trees skips the walk of every tree (on pallets/flask: 0.9 s instead of
    2.3 s) but may include unreachable ones; the caller walks only when a name has a hit.
    """
    from sanitize.scan.engine import read_objects

    if walk:
        listing = git.run(["rev-list", "--objects", "--filter=object:type=tree", *revs], cwd=repo).stdout
        oids = [line.split(b" ", 1)[0].decode("ascii") for line in listing.splitlines() if line.strip()]
    else:
        oids = sorted(oid for oid, info in git.objects.check_all(repo).items() if info.type == "tree")
    names: set[bytes] = set()
    entry: re.Pattern[bytes] | None = None
    for oid, kind, data in read_objects(repo, oids):
        if kind != "tree":
            continue
        if entry is None:  # "<mode> <name>\0<binary id>": 20 bytes for SHA-1, 32 for SHA-256
            entry = re.compile(rb"[0-7]+ ([^\0]*)\0.{%d}" % (len(oid) // 2), re.S)
        names.update(entry.findall(data))
    return {n.decode("utf-8", "surrogateescape") for n in names}


def _paths_holding(repo: Path, values: list[str], revs: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """value → up to ``_MAX_PATHS`` (path, first commit) whose path holds it (one ``git log`` pass)."""
    found: dict[str, dict[str, str]] = {v: {} for v in values}
    out = git.run(["-c", "core.quotePath=false", "log", "--topo-order", "--reverse", "--no-renames", "--root",
                   "--diff-merges=first-parent", "--name-only", "-z", git.log.FORMAT, *revs], cwd=repo).stdout
    for commit, path in git.log.name_only(out):
        for v in values:
            if v in path and len(found[v]) < _MAX_PATHS:
                found[v].setdefault(path, commit)
    return {v: sorted(at.items()) for v, at in found.items()}


def scan_names(repo: Path, refs: list[RefInfo], detector: Detector, revs: Sequence[str] = ALL_REFS,
               known: NameSources | None = None) -> NameScan:
    """Findings for every value the rules find in a ref name, a path component or an identity.

    ``known``: the names the scan's workers already collected from the same walk (then no tree is
    read again and no ``git log`` runs for identities, unless a path name has a hit).
    """
    # Every ref, names not known: list the trees in the object database, walk only on a hit.
    whole = tuple(revs) == ALL_REFS and known is None
    groups: dict[str, list[str]] = {
        "ref-name": [r.name for r in refs],
        "path-name": sorted(known.entries if known is not None else _entry_names(repo, revs, walk=not whole)),
    }
    people = _identities(repo, refs, revs) if known is None else _known_people(refs, known)
    groups["identity"] = sorted(people)
    ref_commit = {r.name: r.commit or r.target for r in refs}
    findings: list[Finding] = []
    values: dict[str, Secret] = {}
    shown_holders: dict[str, list[str]] = {}
    found: dict[str, Secret] = {}
    hits_by_kind: dict[str, list[tuple[str, str, str]]] = {}
    for kind, names in groups.items():
        if not names:
            continue
        text = "\n".join(n.replace("\n", " ") for n in names).encode("utf-8", "surrogateescape")
        hits = [h for h in detector.scan_message(text) if not context.is_generic(h.rule)]
        if hits and kind == "path-name" and whole:
            # A hit among all trees: keep only what the reachable ones hold.
            names = groups[kind] = sorted(_entry_names(repo, revs, walk=True))
            text = "\n".join(n.replace("\n", " ") for n in names).encode("utf-8", "surrogateescape")
            hits = [h for h in detector.scan_message(text) if not context.is_generic(h.rule)]
        if not hits:
            continue
        recovered = detector.values(text, None)
        for h in hits:
            secret = recovered.get(h.secret_sha256)
            if secret is None:
                continue
            found[h.secret_sha256] = Secret(secret.reveal())
            hits_by_kind.setdefault(kind, []).append((h.rule, h.secret_sha256, h.preview))
    redactor = Redactor(found.values())
    paths = _paths_holding(repo, [found[s].reveal() for _, s, _ in hits_by_kind.get("path-name", [])], revs) \
        if "path-name" in hits_by_kind else {}
    for kind, entries in hits_by_kind.items():
        for rule, sha, preview in entries:
            raw = found[sha].reveal()
            holders = [n for n in groups[kind] if raw in n]
            if not holders:
                continue
            commit: str | None
            reach: tuple[str, ...]
            if kind == "ref-name":
                reach = tuple(sorted(redactor.show(n) for n in holders))
                commit, name = ref_commit.get(holders[0]), redactor.show(holders[0])
            elif kind == "identity":
                reach, commit, name = (), people[holders[0]], redactor.show(holders[0])
            else:
                at = paths.get(raw) or []
                holders = [p for p, _ in at] or holders
                reach = ()
                commit = at[0][1] if at else None
                name = redactor.show(at[0][0] if at else holders[0])
            conf = context.confidence(rule, "source", generated_value=False)
            f = Finding(rule=rule, kind=kind, path=None, blob=None, commit=commit,  # type: ignore[arg-type]
                        line=None, secret_sha256=sha, preview=preview, refs=reach, context="source",
                        confidence=conf, name=name)
            findings.append(f)
            values[f.id] = found[sha]
            shown_holders[f.id] = sorted({redactor.show(n) for n in holders})
    return NameScan(findings, redactor, values, shown_holders)


def recover_names(repo: str | Path, *, rules_file: str | None = None) -> NameScan:
    """The name scan again, for the plan: the values and every holder of each name finding, by id."""
    from sanitize.scan.history import list_refs
    from sanitize.scan.rules import load_custom_rules

    gdir = git.git_dir(repo)
    return scan_names(gdir, list_refs(gdir), Detector(load_custom_rules(rules_file) if rules_file else ()))


__all__ = ["NAME_KINDS", "NameScan", "recover_names", "scan_names"]
