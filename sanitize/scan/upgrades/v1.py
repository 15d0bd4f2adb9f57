"""findings/v1 → v2: every finding listed its refs; v2 lists each distinct set once."""

from __future__ import annotations

from typing import Any

from sanitize.errors import UsageError

SCHEMA = "git-sanitize/findings/v1"
NEXT = "git-sanitize/findings/v2"


def upgrade(doc: dict[str, Any]) -> dict[str, Any]:
    """The same document in v2's shape: a ``ref_sets`` table and a ``ref_set`` index per finding."""
    from sanitize.scan.report import encode_ref_set

    refs, findings = doc.get("refs"), doc.get("findings")
    if not isinstance(refs, dict) or not isinstance(findings, list):
        raise UsageError("malformed findings file: 'refs' must be an object and 'findings' a list")
    names = sorted(str(r) for r in refs)
    position = {name: i for i, name in enumerate(names)}
    tables: dict[tuple[str, ...], int] = {}
    ref_sets: list[Any] = []
    out: list[Any] = []
    for f in findings:
        if not isinstance(f, dict):
            out.append(f)  # the v2 reader names what is wrong with it
            continue
        reach = f.get("refs", [])
        if not isinstance(reach, list):
            raise UsageError("malformed finding: 'refs' must be a list of ref names")
        key = tuple(sorted({str(r) for r in reach}))
        unknown = [r for r in key if r not in position]
        if unknown:
            raise UsageError(f"malformed finding: ref {unknown[0][:80]!r} is not in the document's refs")
        if key not in tables:
            tables[key] = len(ref_sets)
            ref_sets.append(encode_ref_set([position[r] for r in key], len(names)))
        out.append({**{k: v for k, v in f.items() if k != "refs"}, "ref_set": tables[key]})
    return {**doc, "schema": NEXT, "refs": {name: refs[name] for name in names}, "ref_sets": ref_sets,
            "findings": out}
