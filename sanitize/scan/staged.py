"""``scan --staged``: the change about to be committed, for the pre-commit hook.

Only the blobs in the index that differ from ``HEAD`` are read (``git
diff-index --cached``), each at its index path, with the same detector,
rules and baseline as a history scan; no history is walked, so a commit of a
few files is checked in the time it takes to start the detector. Findings name
the staged blob and path; they have no commit yet.
"""

from __future__ import annotations

import time
from pathlib import Path

from sanitize import git
from sanitize.errors import UsageError
from sanitize.scan.baseline import load_baseline
from sanitize.scan.detectors import Detector
from sanitize.scan.engine import read_objects
from sanitize.scan.report import Finding, ScanReport, ScanStats
from sanitize.scan.rules import load_custom_rules

_GITLINK = "160000"  # a submodule's commit, not content of this repository


def staged_blobs(worktree: Path) -> list[tuple[str, str]]:
    """(blob id, path) for every index entry added or changed relative to HEAD (all of it before the first commit)."""
    head = git.run(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], cwd=worktree, check=False)
    if head.returncode == 0:
        base = head.stdout.decode("ascii").strip()
    else:  # no commit yet: everything staged is new
        base = git.out(["hash-object", "-t", "tree", "--stdin"], cwd=worktree, input=b"")
    raw = git.run(["-c", "core.quotePath=false", "diff-index", "--cached", "--raw", "-z", "--no-renames",
                   "--diff-filter=ACMT", base, "--"], cwd=worktree).stdout
    fields = raw.split(b"\0")
    out: list[tuple[str, str]] = []
    for i in range(0, len(fields) - 1, 2):
        meta, path = fields[i].split(), fields[i + 1]
        if len(meta) != 5 or meta[1].decode("ascii") == _GITLINK:
            continue
        out.append((meta[3].decode("ascii"), path.decode("utf-8", "surrogateescape")))
    return out


def scan_staged(source: str, *, rules_file: str | None = None, baseline: str | None = None) -> ScanReport:
    """Scan the staged change of the work tree at ``source``; UsageError for a bare repository."""
    path = Path(source)
    if not path.exists():
        raise UsageError(f"{source}: no such file or directory")
    gdir = git.git_dir(path)
    top = git.work_tree_of(path)
    if top is None:
        raise UsageError(f"{source}: a bare repository has no index; --staged needs a work tree")
    extra = load_custom_rules(rules_file) if rules_file else ()
    suppressor = load_baseline(baseline) if baseline else None
    started = time.monotonic()
    entries = staged_blobs(top)
    detector = Detector(extra)
    paths: dict[str, list[str]] = {}
    for oid, p in entries:
        paths.setdefault(oid, []).append(p)
    findings: list[Finding] = []
    total = 0
    for oid, obj_type, data in read_objects(gdir, sorted(paths)):
        if obj_type != "blob":
            continue
        total += len(data)
        for where in paths[oid]:
            for h in detector.scan_blob(data, where):
                f = Finding(rule=h.rule, kind=h.kind, path=where, blob=oid, commit=None,  # type: ignore[arg-type]
                            line=h.line, secret_sha256=h.secret_sha256, preview=h.preview, refs=())
                if suppressor is not None and (suppressor.suppresses(f) or h.secret_sha1 in suppressor.hashed_secrets):
                    continue
                findings.append(f)
    findings.sort(key=lambda f: (f.kind != "path", f.path or "", f.line or 0, f.rule))
    stats = ScanStats(commits=0, blobs=len(paths), bytes=total, seconds=round(time.monotonic() - started, 3))
    return ScanReport(source=str(top), refs={}, stats=stats, findings=findings)
