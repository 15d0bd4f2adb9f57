"""The plan's ``summary``: the counts reviewers, approvers and the rewrite's check read, typed.

plan.json keeps it under ``summary`` (schema ``git-sanitize/plan/v1``); :meth:`PlanSummary.dump`
is exactly that JSON object and :meth:`PlanSummary.parse` validates one (UsageError naming the
field). The blast-radius numbers are :meth:`sanitize.purge.blast_radius.BlastRadius.summary`'s;
plans written before the plan counted held-back values, carriers, untouched refs, signatures,
encoded values or decoded-only deletions lack those keys, and parse leaves them ``None`` (dump then
leaves them out, as the plan was written); any other missing or unknown key is a UsageError.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from sanitize.errors import UsageError

# Keys a plan may lack (written before they were counted, or nothing to count): None in the summary,
# absent from its dump. The first plans (2026-11-25) stated only the other counts.
_OPTIONAL = ("held_back_values", "held_back_findings", "included_findings", "commits_carrying_purged_content",
             "commits_descendants_only", "refs_untouched", "signed_commits_losing_signature",
             "signed_tags_losing_signature", "encoded_values", "deleted_for_decoded", "renamed_values")


@dataclass(frozen=True, kw_only=True)
class PlanSummary:
    """How much the plan covers and what will change (fields in plan.json's order)."""

    findings: int                        # findings in the findings file
    findings_planned: int                # of them, the ones the plan acts on
    dropped_findings: tuple[str, ...]    # ids rejected as false positives (--drop)
    kept_paths: tuple[str, ...]          # paths kept at the reviewer's request (--keep-path)
    held_back_values: int | None = None  # low-confidence values left for review
    held_back_findings: int | None = None
    included_findings: tuple[str, ...] | None = None  # held-back ids planned after all (--include)
    delete_paths: int
    replacements: int
    messages: int
    fix_in_code: int
    commits_total: int
    commits_changing: int
    commits_carrying_purged_content: int | None = None
    commits_descendants_only: int | None = None
    refs_total: int
    refs_changing: Mapping[str, int]     # ref → changed commits it reaches
    refs_untouched: int | None = None
    signed_commits_losing_signature: int | None = None
    signed_tags_losing_signature: int | None = None
    short_values: int                    # values shorter than plan.SHORT_VALUE
    encoded_values: int | None = None    # values that sit in the blobs escaped or encoded
    deleted_for_decoded: int | None = None  # paths deleted because a value shows only after decoding
    renamed_values: int | None = None    # values renamed out of ref names, paths and identities

    def dump(self) -> dict[str, object]:
        """The ``summary`` object of plan.json (optional counts only when known)."""
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name in _OPTIONAL:
                continue
            out[f.name] = list(value) if isinstance(value, tuple) else dict(value) if isinstance(value, Mapping) \
                else value
        return out

    @classmethod
    def parse(cls, doc: object, where: str) -> PlanSummary:
        """A summary from plan.json; UsageError (naming ``where`` and the field) if malformed."""
        if not isinstance(doc, dict):
            raise UsageError(f"{where}: must be a JSON object")
        unknown = sorted(set(doc) - {f.name for f in fields(cls)})
        if unknown:
            raise UsageError(f"{where}: unknown field {unknown[0][:40]!r}")
        values: dict[str, object] = {}
        for f in fields(cls):
            if f.name not in doc:
                if f.name in _OPTIONAL:
                    continue
                raise UsageError(f"{where}: {f.name!r} is missing")
            value = doc[f.name]
            if f.name == "refs_changing":
                if not isinstance(value, dict) or not all(_is_int(v) for v in value.values()):
                    raise UsageError(f"{where}: 'refs_changing' must map ref names to counts")
                values[f.name] = {str(k): int(v) for k, v in value.items()}
            elif f.name in ("dropped_findings", "kept_paths", "included_findings"):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise UsageError(f"{where}: {f.name!r} must be a list of strings")
                values[f.name] = tuple(value)
            elif not _is_int(value):
                raise UsageError(f"{where}: {f.name!r} must be an integer")
            else:
                values[f.name] = value
        return cls(**values)  # type: ignore[arg-type]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
