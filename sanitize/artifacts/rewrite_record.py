"""The rewrite record: what a finished rewrite changed, as every later stage reads it.

Rewrite writes it into the workdir's state (stage ``rewrite``, beside its status);
notify, approve, push, verify and the guard read it once per stage through
:func:`load` (or :func:`current`, which also checks that plan.json and the mirror
still are what the rewrite left) and pass the record on. An unfinished rewrite or
a malformed record is one line and exit 2, never an empty record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sanitize import git
from sanitize.artifacts.blast_numbers import BlastNumbers
from sanitize.artifacts.upgrades import Step, rewrite_record_v0, upgrade
from sanitize.errors import UsageError
from sanitize.workdir import Workdir

SCHEMA = "git-sanitize/rewrite-record/v1"
_STEPS: dict[str | None, Step] = {rewrite_record_v0.SCHEMA: rewrite_record_v0.upgrade}


@dataclass(frozen=True)
class RewriteRecord:
    """One finished rewrite: the plan it applied, the tips before and after, and what it removed."""

    plan_digest: str
    source: str                            # the plan's source (a path or URL), the default push target
    tips_at_scan: Mapping[str, str]        # ref → tip the scan saw: the push's leases
    rewritten_tips: Mapping[str, str]      # ref → tip in mirror.git after the rewrite
    deleted_refs: tuple[str, ...]          # refs the rewrite removed (all their commits were purged)
    first_changed: Mapping[str, str]       # ref → its earliest rewritten (old) commit
    old_commits: frozenset[str]            # every old commit the rewrite replaced
    purged_blobs: tuple[str, ...]          # blob ids no longer in the mirror
    first_changed_commits: tuple[str, ...]  # old commits with no rewritten parent: where the rewrite starts
    blast_radius: BlastNumbers             # the numbers approve, notify and status state
    renamed_refs: Mapping[str, str] = field(default_factory=dict)  # shown old name → new name (sanitize/names.py)

    def dump(self) -> dict[str, object]:
        """The JSON form kept in state.json's ``rewrite`` stage."""
        return {
            "schema": SCHEMA, "plan_digest": self.plan_digest, "source": self.source,
            "tips_at_scan": dict(self.tips_at_scan), "rewritten_tips": dict(self.rewritten_tips),
            "deleted_refs": list(self.deleted_refs), "first_changed": dict(self.first_changed),
            "old_commits": sorted(self.old_commits), "purged_blobs": list(self.purged_blobs),
            "first_changed_commits": list(self.first_changed_commits), "blast_radius": self.blast_radius.dump(),
            **({"renamed_refs": dict(self.renamed_refs)} if self.renamed_refs else {}),
        }

    @property
    def changed_refs(self) -> dict[str, str]:
        """ref → old tip, for every ref the rewrite moved or deleted."""
        return {ref: old for ref, old in self.tips_at_scan.items() if self.rewritten_tips.get(ref) != old}

    @property
    def banned_ids(self) -> list[str]:
        """Purged blobs and old commits: what the re-contamination guard refuses."""
        return sorted(set(self.purged_blobs) | self.old_commits | set(self.first_changed_commits))


def parse(doc: object, where: str) -> RewriteRecord:
    """A record from its JSON form (any schema version); UsageError naming ``where`` if malformed."""
    data = upgrade(doc, SCHEMA, _STEPS, f"{where}: the rewrite record")
    try:
        return RewriteRecord(
            plan_digest=_text(data, "plan_digest"), source=_text(data, "source", empty=True),
            tips_at_scan=_refs(data, "tips_at_scan"), rewritten_tips=_refs(data, "rewritten_tips"),
            deleted_refs=tuple(_names(data, "deleted_refs")), first_changed=_refs(data, "first_changed"),
            old_commits=frozenset(_names(data, "old_commits")), purged_blobs=tuple(_names(data, "purged_blobs")),
            first_changed_commits=tuple(_names(data, "first_changed_commits")),
            blast_radius=BlastNumbers.parse(data["blast_radius"], f"{where}: the rewrite record's blast_radius"),
            renamed_refs=_refs(data, "renamed_refs") if "renamed_refs" in data else {},
        )
    except (KeyError, TypeError) as exc:
        raise UsageError(f"{where}: malformed rewrite record ({str(exc)[:80]}); rewrite again") from None


def load(wd: Workdir) -> RewriteRecord:
    """The finished rewrite's record; UsageError if rewrite has not completed or the record is malformed."""
    rec = wd.state().stage("rewrite")
    if rec.status != "done" or not rec.detail.get("plan_digest"):
        raise UsageError(f"{wd.root}: rewrite has not completed in this workdir; run rewrite first")
    return parse(dict(rec.detail), str(wd.state_path))


def current(wd: Workdir) -> RewriteRecord:
    """:func:`load`, and UsageError if plan.json or mirror.git changed since: approvals are for what was rewritten."""
    record = load(wd)
    check_plan_unchanged(wd, record)
    check_mirror_unchanged(wd, record)
    return record


def check_plan_unchanged(wd: Workdir, record: RewriteRecord) -> None:
    """UsageError if the workdir's plan, loaded and verified as every stage loads it (digest over plan.json
    and plan.secrets), is not the plan the rewrite applied."""
    if not wd.plan.is_file():
        return
    from sanitize.purge.plan import load_plan  # the plan stage imports the artifacts

    if load_plan(wd.plan).digest != record.plan_digest:
        raise UsageError(f"{wd.plan}: the plan changed after the rewrite (digest differs); rewrite again")


def check_mirror_unchanged(wd: Workdir, record: RewriteRecord) -> None:
    """UsageError if mirror.git's refs are no longer the recorded rewritten tips."""
    if not wd.mirror.is_dir():
        return
    actual = git.refs(wd.mirror)
    recorded = dict(record.rewritten_tips)
    if actual != recorded:
        moved = sorted(set(actual.items()) ^ set(recorded.items()))
        raise UsageError(f"{wd.mirror}: refs differ from the recorded rewrite ({moved[0][0]} …); rewrite again")


def _text(data: Mapping[str, object], key: str, *, empty: bool = False) -> str:
    value = data[key]
    if not isinstance(value, str) or (not value and not empty):
        raise TypeError(f"{key!r} must be a non-empty string")
    return value


def _names(data: Mapping[str, object], key: str) -> list[str]:
    value = data[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{key!r} must be a list of strings")
    return [str(v) for v in value]


def _refs(data: Mapping[str, object], key: str) -> dict[str, str]:
    value = data[key]
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise TypeError(f"{key!r} must map ref names to object ids")
    return {str(k): str(v) for k, v in value.items()}
