"""Names that hold a secret (a branch, a tag, a path component, an author): shown redacted, renamed in git.

A detected value that is also part of a ref name, a path or an identity must never be printed, and
the rewrite must leave no name holding it. Two stable forms, both derived from the value's SHA-256
(never from the value):

* shown: ``[redacted:<sha12>]``, what every artifact and message prints in place of the value
  (``refs/heads/feature/[redacted:1a2b3c4d5e6f]``). ``[`` and ``:`` are not allowed in ref names,
  so a shown name can never be mistaken for a real one;
* renamed: ``redacted-<sha12>``, what the rewrite puts in history and on the remote in its place
  (``refs/heads/feature/redacted-1a2b3c4d5e6f``), a valid ref name, path and email part.

Artifacts (findings, plan, state, ref-map, notices) carry shown names only. The real name is needed
only where git is asked about the original refs (the source, the backup, the remote before the push):
:meth:`Redactor.reveal` turns a shown name back into it from the values in ``plan.secrets`` (0600).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from sanitize.artifacts.plan_actions import NameRename, Rename
from sanitize.secret import Secret

_SHOWN = re.compile(r"\[redacted:([0-9a-f]{12})\]")
V = TypeVar("V")


def shown(sha256: str) -> str:
    """What outputs print in place of a value in a name."""
    return f"[redacted:{sha256[:12]}]"


def renamed(sha256: str) -> str:
    """What the rewrite writes in place of a value in a ref name, path or identity."""
    return f"redacted-{sha256[:12]}"


def is_shown(name: str) -> bool:
    """True for a name that had a value redacted out of it (a ref the rewrite renames)."""
    return _SHOWN.search(name) is not None


def to_renamed(name: str) -> str:
    """The shown name's new name in rewritten history (``[redacted:X]`` → ``redacted-X``)."""
    return _SHOWN.sub(lambda m: f"redacted-{m.group(1)}", name)


class Redactor:
    """Shows, renames and reveals the values of names; built from the values found in names."""

    def __init__(self, values: Iterable[Secret]) -> None:
        # Longest first, so a value that contains another is replaced whole.
        self._values = sorted({v.sha256: v for v in values}.values(), key=lambda v: (-len(v), v.sha256))
        self._by_prefix = {v.sha256[:12]: v for v in self._values}

    def __bool__(self) -> bool:
        return bool(self._values)

    @property
    def sha256s(self) -> set[str]:
        """The hashes of the values this redactor knows."""
        return {v.sha256 for v in self._values}

    def values(self) -> list[bytes]:
        """The values as bytes (for filter-repo's callbacks and the blast radius)."""
        return [v.reveal().encode("utf-8", "surrogateescape") for v in self._values]

    def show(self, text: str) -> str:
        """``text`` with every known value replaced by its shown form."""
        for v in self._values:
            raw = v.reveal()
            if raw in text:
                text = text.replace(raw, shown(v.sha256))
        return text

    def rename(self, data: bytes) -> bytes:
        """``data`` (a name from git) with every known value replaced by its new name."""
        for v in self._values:
            raw = v.reveal().encode("utf-8", "surrogateescape")
            if raw in data:
                data = data.replace(raw, renamed(v.sha256).encode("ascii"))
        return data

    def reveal(self, name: str) -> str:
        """A shown name back as git knows it (a shown value this redactor does not hold stays shown)."""
        def real(m: re.Match[str]) -> str:
            v = self._by_prefix.get(m.group(1))
            return v.reveal() if v is not None else m.group(0)

        return _SHOWN.sub(real, name)

    def published(self) -> list[dict[str, Any]]:
        """What a collaborator's ``migrate`` needs to rename a local name holding a value: its SHA-256,
        its length in characters (token formats have fixed lengths anyway) and its new name; never the value."""
        return [{"secret_sha256": v.sha256, "length": len(v.reveal()), "new": renamed(v.sha256)} for v in self._values]

    def show_keys(self, refs: Mapping[str, V]) -> dict[str, V]:
        """A ref → value mapping with every ref name shown."""
        return {self.show(k): v for k, v in refs.items()} if self._values else dict(refs)


_KIND_WORDS = {"ref-name": "ref", "path-name": "path", "identity": "author/committer/tagger"}


def plan_entries(findings: Iterable[Any], holders: Mapping[str, list[str]]) -> list[NameRename]:
    """The plan's ``names`` action: per value, every name that holds it (shown) and its new name.

    ``findings`` are name findings; ``holders`` maps a finding id to the names holding its value, shown
    redacted. The value itself goes to plan.secrets, so ``--replace-text``/``--replace-message`` also
    remove it from files and messages (``Merge branch 'feature/…'``).
    """
    groups: dict[str, list[Any]] = {}
    for f in findings:
        groups.setdefault(f.secret_sha256, []).append(f)
    out: list[NameRename] = []
    for sha, fs in sorted(groups.items()):
        renames = sorted({(f.kind, old) for f in fs for old in holders.get(f.id, [f.name])})
        out.append(NameRename(
            secret_sha256=sha, preview=fs[0].preview, rules=tuple(sorted({f.rule for f in fs})),
            kinds=tuple(sorted({f.kind for f in fs})), finding_ids=tuple(sorted({f.id for f in fs})),
            shown=shown(sha), new=renamed(sha),
            renames=tuple(Rename(kind=kind, what=_KIND_WORDS.get(kind, kind), old=old, new=to_renamed(old))
                          for kind, old in renames),
        ))
    return out


def renamed_refs(tips: Iterable[str]) -> dict[str, str]:
    """Shown old ref name → its new name, for every ref of ``tips`` whose name held a value."""
    return {r: to_renamed(r) for r in tips if is_shown(r)}


def rename_refs(repo: str | os.PathLike[str], redactor: Redactor) -> dict[str, str]:
    """Give every ref of ``repo`` whose name holds a value its new name, in one ref transaction.

    git-filter-repo's refname callback renames the refs it exports; a ref whose commits do not change
    is not exported and keeps its name until here. A ref filter-repo already re-made under the new name
    is only deleted. Returns shown old name → new name.
    """
    from sanitize import git

    if not redactor:
        return {}
    refs = git.refs(repo)
    lines: list[bytes] = []
    done: dict[str, str] = {}
    for ref, sha in sorted(refs.items()):
        new = redactor.rename(ref.encode("utf-8", "surrogateescape")).decode("utf-8", "surrogateescape")
        if new == ref:
            continue
        if new not in refs:
            lines.append(f"create {new} {sha}\n".encode())
        lines.append(f"delete {ref} {sha}\n".encode("utf-8", "surrogateescape"))
        done[redactor.show(ref)] = new
    if lines:
        git.run(["update-ref", "--stdin"], cwd=repo, input=b"start\n" + b"".join(lines) + b"prepare\ncommit\n")
    # HEAD naming a renamed branch (the default branch's name held the value) follows it.
    head = git.run(["symbolic-ref", "-q", "HEAD"], cwd=repo, check=False).stdout.strip()
    new_head = redactor.rename(head)
    if head and new_head != head:
        git.run(["symbolic-ref", "HEAD", new_head.decode("utf-8", "surrogateescape")], cwd=repo)
    return done


def redact_file(path: Path, redactor: Redactor) -> None:
    """Rewrite a text file git or filter-repo wrote (ref-map, changed-refs) with every value shown."""
    if not redactor or not path.is_file():
        return
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    shown_text = redactor.show(text)
    if shown_text != text:
        path.write_text(shown_text, encoding="utf-8", errors="surrogateescape")


def from_plan(plan: object) -> Redactor:
    """The redactor of a plan: the values its ``names`` action renames (read from plan.secrets)."""
    wanted = {n.secret_sha256 for n in getattr(plan, "names", ()) or ()}
    if not wanted:
        return Redactor(())
    secret_values = getattr(plan, "secret_values")  # noqa: B009 - a Plan, without importing plan (cycle)
    return Redactor(v for v in secret_values() if v.sha256 in wanted)


__all__ = ["Redactor", "from_plan", "is_shown", "plan_entries", "redact_file", "rename_refs", "renamed", "renamed_refs",
           "shown", "to_renamed"]
