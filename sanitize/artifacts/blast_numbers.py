"""The blast radius in numbers: how many commits and refs a purge changes, as every stage states them.

Plan computes them (:meth:`sanitize.purge.blast_radius.BlastRadius.numbers`), the rewrite
checks its result against them and keeps the result in the rewrite record, and approve,
notify, status and the playbook read them back from there. :meth:`BlastNumbers.dump` is the
JSON object (``blast_radius`` in the rewrite record and report, part of plan.json's
``summary``); records written before some numbers were counted lack them (``None``, left out).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from sanitize.errors import UsageError

_REQUIRED = ("commits_changing", "refs_total", "refs_changing")


@dataclass(frozen=True, kw_only=True)
class BlastNumbers:
    """Commits and refs that change (fields in the JSON's order)."""

    commits_total: int | None = None
    commits_changing: int
    commits_carrying_purged_content: int | None = None  # a deleted path or replaced value in tree or message
    commits_descendants_only: int | None = None         # changed only because an ancestor's id changes
    refs_total: int
    refs_changing: Mapping[str, int]                    # ref → changed commits it reaches (0: only a tag message)
    refs_untouched: int | None = None
    signed_commits_losing_signature: int | None = None
    signed_tags_losing_signature: int | None = None

    def dump(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = dict(value) if isinstance(value, Mapping) else value
        return out

    @classmethod
    def parse(cls, doc: object, where: str, *, ignore: frozenset[str] = frozenset()) -> BlastNumbers:
        """The numbers of a JSON object; keys in ``ignore`` are another artifact's (plan.json's summary
        holds these numbers among its own). UsageError naming ``where`` and the field if malformed."""
        if not isinstance(doc, dict):
            raise UsageError(f"{where}: must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(doc) - known - ignore)
        if unknown:
            raise UsageError(f"{where}: unknown field {unknown[0][:40]!r}")
        values: dict[str, object] = {}
        for name in known:
            if name not in doc:
                if name in _REQUIRED:
                    raise UsageError(f"{where}: {name!r} is missing")
                continue
            value = doc[name]
            if name == "refs_changing":
                if not isinstance(value, dict) or not all(_is_count(v) for v in value.values()):
                    raise UsageError(f"{where}: 'refs_changing' must map ref names to counts")
                values[name] = {str(k): int(v) for k, v in value.items()}
            elif not _is_count(value):
                raise UsageError(f"{where}: {name!r} must be a count")
            else:
                values[name] = value
        return cls(**values)  # type: ignore[arg-type]

    def describe(self) -> str:
        """One line for people: how many commits and refs change, why, and what cannot survive."""
        head = f"{self.commits_changing} commit(s) on {len(self.refs_changing)} of {self.refs_total} ref(s)"
        if self.commits_carrying_purged_content is None:
            return head
        return (f"{head} ({self.commits_carrying_purged_content} carry purged content, "
                f"{self.commits_descendants_only or 0} only descend from one); "
                f"{self.signed_commits_losing_signature or 0} signed commit(s) and "
                f"{self.signed_tags_losing_signature or 0} signed tag(s) lose their signature; "
                f"{self.refs_untouched or 0} ref(s) untouched")


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
