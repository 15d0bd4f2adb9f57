"""The rewrite report: what the rewrite changed and how it was checked, for people and pipelines.

Rewrite writes it as ``WORKDIR/rewrite-report.json`` (schema ``git-sanitize/rewrite-report/v1``)
and renders ``rewrite-report.md`` from the same object; ``rewrite`` returns it, and a rewrite
that is already done reads it back with :func:`load` (older reports are upgraded by
:mod:`sanitize.artifacts.upgrades.rewrite_report_v0`). A malformed report is one line and
exit 2. It never holds a secret value: previews and hashes only.

The numbers of the blast radius (``blast_radius.plan``/``predicted``/``result``) are
:class:`~sanitize.artifacts.blast_numbers.BlastNumbers` (the rewrite record carries the same),
and the rescan and the second opinion keep theirs
(:meth:`~sanitize.purge.rescan.Remaining.to_dict`, the independent tool's own counts).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sanitize.artifacts.blast_numbers import BlastNumbers
from sanitize.artifacts.plan_actions import FixInCode
from sanitize.artifacts.plan_review import ByHand
from sanitize.artifacts.upgrades import Step, rewrite_report_v0, upgrade
from sanitize.errors import UsageError

SCHEMA = "git-sanitize/rewrite-report/v1"
_STEPS: dict[str | None, Step] = {rewrite_report_v0.SCHEMA: rewrite_report_v0.upgrade}

@dataclass(frozen=True)
class RefChange:
    """One ref the rewrite moved, deleted or renamed."""

    old: str
    new: str | None
    commits_rewritten: int
    first_changed: str | None
    renamed_to: str | None = None

    def dump(self) -> dict[str, object]:
        return {"old": self.old, "new": self.new, "commits_rewritten": self.commits_rewritten,
                "first_changed": self.first_changed, **({"renamed_to": self.renamed_to} if self.renamed_to else {})}


@dataclass(frozen=True)
class ReplacedValue:
    """A value replaced everywhere (its preview and hash, never the value)."""

    rule: str
    preview: str
    secret_sha256: str
    blobs_at_scan: int = 0
    paths: tuple[str, ...] = ()

    def dump(self) -> dict[str, object]:
        return {"rule": self.rule, "preview": self.preview, "secret_sha256": self.secret_sha256,
                "blobs_at_scan": self.blobs_at_scan, "paths": list(self.paths)}


@dataclass(frozen=True)
class BlastCheck:
    """What the plan said would change, what the rewrite predicted before exporting, what changed."""

    plan: BlastNumbers
    predicted: BlastNumbers
    result: BlastNumbers
    matches: bool
    differences: tuple[str, ...]

    def dump(self) -> dict[str, object]:
        return {"plan": self.plan.dump(), "predicted": self.predicted.dump(), "result": self.result.dump(),
                "matches": self.matches, "differences": list(self.differences)}


@dataclass(frozen=True)
class SignedTag:
    ref: str
    old: str
    new: str | None

    def dump(self) -> dict[str, object]:
        return {"ref": self.ref, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class Gitlink:
    """A submodule pointer (in another repository's history) into commits the rewrite replaced."""

    commit: str
    path: str
    target: str

    def dump(self) -> dict[str, object]:
        return {"commit": self.commit, "path": self.path, "target": self.target}


@dataclass(frozen=True)
class Verification:
    """The rewrite's own check of the mirror: clean only if nothing planned is still reachable."""

    clean: bool
    problems: tuple[str, ...]
    objects_read: int | None = None
    objects_in_mirror: int | None = None  # when only the rewrite's new objects were read: the mirror's total
    rescan: Mapping[str, object] = field(default_factory=dict)  # Remaining.to_dict() and the rescan's counts

    def dump(self) -> dict[str, object]:
        return {"clean": self.clean, "problems": list(self.problems),
                **({"objects_read": self.objects_read} if self.objects_read is not None else {}),
                **({"objects_in_mirror": self.objects_in_mirror} if self.objects_in_mirror is not None else {}),
                **({"rescan": dict(self.rescan)} if self.rescan else {})}


@dataclass(frozen=True, kw_only=True)
class RewriteReport:
    """One finished (or failed) rewrite, as rewrite-report.json states it."""

    plan_digest: str
    source: str
    mirror: str
    commits_total: int
    commits_rewritten: int
    refs: Mapping[str, RefChange]
    deleted_refs: tuple[str, ...]
    paths_removed: tuple[str, ...]
    replacements: tuple[ReplacedValue, ...]
    messages_rewritten: tuple[str, ...]
    blobs_purged: int
    size_kib_before: int
    size_kib_after: int
    blast_radius: BlastCheck
    signed_commits_dropped: tuple[str, ...]
    signed_tags_dropped: tuple[SignedTag, ...]
    first_changed_commits: tuple[str, ...]
    verification: Verification
    renamed_refs: Mapping[str, str] = field(default_factory=dict)
    lfs_objects_orphaned: tuple[str, ...] = ()
    submodule_gitlinks_into_rewritten_history: tuple[Gitlink, ...] = ()
    notes_refiled: int = 0
    fix_in_code: tuple[FixInCode, ...] = ()
    fail_closed_names: tuple[str, ...] = ()
    fail_closed_by_hand: tuple[ByHand, ...] = ()
    unmapped_commits: tuple[str, ...] = ()
    independent_check: Mapping[str, object] = field(default_factory=dict)  # the second opinion's own counts
    timings: Mapping[str, float] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return self.verification.clean

    @property
    def commits(self) -> dict[str, int]:
        """``{"total", "rewritten"}``, as the JSON groups them."""
        return {"total": self.commits_total, "rewritten": self.commits_rewritten}

    @property
    def size_kib(self) -> dict[str, int]:
        return {"before": self.size_kib_before, "after": self.size_kib_after}

    @property
    def signatures_dropped(self) -> dict[str, object]:
        return {"commits": list(self.signed_commits_dropped), "tags": [t.dump() for t in self.signed_tags_dropped]}

    @property
    def fail_closed(self) -> dict[str, object]:
        return {"names": list(self.fail_closed_names), "by_hand": [b.dump() for b in self.fail_closed_by_hand]}

    def dump(self) -> dict[str, object]:
        """rewrite-report.json."""
        return {
            "schema": SCHEMA, "plan_digest": self.plan_digest, "source": self.source, "mirror": self.mirror,
            "commits": self.commits, "refs": {r: c.dump() for r, c in self.refs.items()},
            "deleted_refs": list(self.deleted_refs), "renamed_refs": dict(self.renamed_refs),
            "paths_removed": list(self.paths_removed), "replacements": [r.dump() for r in self.replacements],
            "messages_rewritten": list(self.messages_rewritten), "blobs_purged": self.blobs_purged,
            "size_kib": self.size_kib, "blast_radius": self.blast_radius.dump(),
            "signatures_dropped": self.signatures_dropped, "lfs_objects_orphaned": list(self.lfs_objects_orphaned),
            "submodule_gitlinks_into_rewritten_history": [g.dump() for g in
                                                          self.submodule_gitlinks_into_rewritten_history],
            "notes_refiled": self.notes_refiled, "fix_in_code": [f.dump() for f in self.fix_in_code],
            "fail_closed": self.fail_closed, "first_changed_commits": list(self.first_changed_commits),
            "unmapped_commits": list(self.unmapped_commits),
            **({"independent_check": dict(self.independent_check)} if self.independent_check else {}),
            "verification": self.verification.dump(), "timings": dict(self.timings),
        }


def parse(doc: object, where: str) -> RewriteReport:
    """A report from its JSON form (any schema version); UsageError naming ``where`` if malformed."""
    d = upgrade(doc, SCHEMA, _STEPS, f"{where}: the rewrite report")
    try:
        commits, size, blast = _obj(d, "commits"), _obj(d, "size_kib"), _obj(d, "blast_radius")
        signatures, verification = _obj(d, "signatures_dropped"), _obj(d, "verification")
        fail = _obj(d, "fail_closed") if "fail_closed" in d else {}
        return RewriteReport(
            plan_digest=_str(d, "plan_digest"), source=_str(d, "source"), mirror=_str(d, "mirror"),
            commits_total=_int(commits, "total"), commits_rewritten=_int(commits, "rewritten"),
            refs={str(ref): RefChange(old=_str(c, "old"), new=_opt_str(c, "new"),
                                      commits_rewritten=_int(c, "commits_rewritten"),
                                      first_changed=_opt_str(c, "first_changed"), renamed_to=_opt_str(c, "renamed_to"))
                  for ref, c in ((r, _as_obj(x, f"refs[{r!r}]")) for r, x in _obj(d, "refs").items())},
            deleted_refs=_strs(d, "deleted_refs"), paths_removed=_strs(d, "paths_removed"),
            replacements=tuple(ReplacedValue(rule=_str(x, "rule"), preview=_str(x, "preview"),
                                             secret_sha256=_str(x, "secret_sha256"),
                                             blobs_at_scan=_int(x, "blobs_at_scan", 0),
                                             paths=_strs(x, "paths") if "paths" in x else ())
                               for x in _objs(d, "replacements")),
            messages_rewritten=_strs(d, "messages_rewritten"), blobs_purged=_int(d, "blobs_purged"),
            size_kib_before=_int(size, "before"), size_kib_after=_int(size, "after"),
            blast_radius=BlastCheck(plan=_numbers(blast, "plan", where), predicted=_numbers(blast, "predicted", where),
                                    result=_numbers(blast, "result", where), matches=_bool(blast, "matches"),
                                    differences=_strs(blast, "differences")),
            signed_commits_dropped=_strs(signatures, "commits"),
            signed_tags_dropped=tuple(SignedTag(ref=_str(t, "ref"), old=_str(t, "old"), new=_opt_str(t, "new"))
                                      for t in _objs(signatures, "tags")),
            first_changed_commits=_strs(d, "first_changed_commits"),
            verification=Verification(clean=_bool(verification, "clean"), problems=_strs(verification, "problems"),
                                      objects_read=_int(verification, "objects_read")
                                      if "objects_read" in verification else None,
                                      objects_in_mirror=_int(verification, "objects_in_mirror")
                                      if "objects_in_mirror" in verification else None,
                                      rescan=_obj(verification, "rescan") if "rescan" in verification else {}),
            renamed_refs={str(k): str(v) for k, v in _obj(d, "renamed_refs").items()} if "renamed_refs" in d else {},
            lfs_objects_orphaned=_strs(d, "lfs_objects_orphaned") if "lfs_objects_orphaned" in d else (),
            submodule_gitlinks_into_rewritten_history=tuple(
                Gitlink(commit=_str(g, "commit"), path=_str(g, "path"), target=_str(g, "target"))
                for g in _objs(d, "submodule_gitlinks_into_rewritten_history", optional=True)),
            notes_refiled=_int(d, "notes_refiled", 0),
            fix_in_code=tuple(FixInCode.parse(f, f"{where}: fix_in_code[{n}]")
                              for n, f in enumerate(_objs(d, "fix_in_code", optional=True))),
            fail_closed_names=_strs(fail, "names") if "names" in fail else (),
            fail_closed_by_hand=tuple(ByHand.parse(b, f"{where}: fail_closed.by_hand[{n}]")
                                      for n, b in enumerate(_objs(fail, "by_hand", optional=True))),
            unmapped_commits=_strs(d, "unmapped_commits") if "unmapped_commits" in d else (),
            independent_check=_obj(d, "independent_check") if "independent_check" in d else {},
            timings={str(k): float(v) for k, v in _obj(d, "timings").items() if isinstance(v, (int, float))}
            if "timings" in d else {},
        )
    except (KeyError, TypeError) as exc:
        raise UsageError(f"{where}: malformed rewrite report ({str(exc)[:80]}); rewrite again") from None


def load(path: Path) -> RewriteReport:
    """rewrite-report.json; UsageError (one line) if unreadable or malformed."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: unreadable rewrite report ({exc.__class__.__name__}); rewrite again") from None
    return parse(doc, str(path))


def _numbers(blast: Mapping[str, object], key: str, where: str) -> BlastNumbers:
    return BlastNumbers.parse(blast[key], f"{where}: blast_radius.{key}")


def _as_obj(value: object, key: str) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise TypeError(f"{key!r} must be an object")
    return value


def _obj(d: Mapping[str, object], key: str) -> Mapping[str, object]:
    return _as_obj(d[key], key)


def _objs(d: Mapping[str, object], key: str, *, optional: bool = False) -> list[Mapping[str, object]]:
    if optional and key not in d:
        return []
    value = d[key]
    if not isinstance(value, list):
        raise TypeError(f"{key!r} must be a list")
    return [_as_obj(v, key) for v in value]


def _str(d: Mapping[str, object], key: str) -> str:
    value = d[key]
    if not isinstance(value, str):
        raise TypeError(f"{key!r} must be a string")
    return value


def _opt_str(d: Mapping[str, object], key: str) -> str | None:
    value = d.get(key)
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{key!r} must be a string or null")
    return value


def _strs(d: Mapping[str, object], key: str) -> tuple[str, ...]:
    value = d[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{key!r} must be a list of strings")
    return tuple(value)


def _int(d: Mapping[str, object], key: str, default: int | None = None) -> int:
    value = d.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{key!r} must be an integer")
    return value


def _bool(d: Mapping[str, object], key: str) -> bool:
    value = d[key]
    if not isinstance(value, bool):
        raise TypeError(f"{key!r} must be true or false")
    return value
