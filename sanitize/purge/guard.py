"""The re-contamination guard: a server-side pre-receive hook.

After the purge, one collaborator pushing an un-reset clone would bring every
purged object back. The hook lists the objects a push brings in
(``git rev-list --objects <new> --not --all``) and rejects the push if any is a
purged blob or an old (pre-rewrite) commit. The banned ids are written beside
the hook; that check is plain POSIX sh so any git server can run it.

A secret can also come back as new content (the same value pasted again, or a
fresh one). The hook then runs ``git-sanitize guard check`` — the scan's own
rule engine over only the objects the push adds (:func:`check_push`) — with the
Python that installed it; if that Python is gone the hook refuses every push
rather than let content through unchecked.
"""

from __future__ import annotations

import os
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from sanitize import git
from sanitize.artifacts import rewrite_record
from sanitize.errors import UsageError
from sanitize.scan.report import ScanReport
from sanitize.workdir import Workdir, write_atomic

MARKER = "git-sanitize re-contamination guard"
BANNED_NAME = "sanitize-guard-banned"


def render_hook(digest: str, banned_count: int, deadline: str | None = None, *, content_scan: bool = True) -> str:
    """The pre-receive script text (templates/hooks/pre-receive.j2)."""
    env = Environment(loader=PackageLoader("sanitize", "templates/hooks"), undefined=StrictUndefined,
                      keep_trailing_newline=True, autoescape=False)  # noqa: S701 - a shell script, not HTML
    python, root = sys.executable, str(Path(__file__).resolve().parents[2])  # the directory holding sanitize/
    return env.get_template("pre-receive.j2").render(
        digest=digest, banned_name=BANNED_NAME, banned_count=banned_count, deadline=deadline,
        generated=datetime.now(UTC).date().isoformat(), content_scan=content_scan,
        python=shlex.quote(python), package_root=shlex.quote(root))


def parse_updates(text: str) -> list[tuple[str, str, str]]:
    """pre-receive's stdin, ``<old> <new> <ref>`` per line; UsageError for anything else."""
    updates: list[tuple[str, str, str]] = []
    for raw in git.lines(text):
        if not raw.strip():
            continue
        parts = raw.split(" ", 2)
        if len(parts) != 3:
            raise UsageError(f"guard check: unexpected line {raw[:80]!r} (expected '<old> <new> <ref>')")
        updates.append((parts[0], parts[1], parts[2]))
    return updates


def check_push(repo: str | os.PathLike[str], stdin_text: str, *, rules_file: str | None = None,
               baseline: str | None = None) -> ScanReport:
    """Scan what a push brings to ``repo`` (run inside pre-receive: the objects are still quarantined).

    Only objects no existing ref reaches are read — new blobs at their paths and new
    commit and tag messages — with the same detector, rules and baseline as ``scan``,
    and the repository's settings as ``HEAD`` holds them before this push
    (:mod:`sanitize.config`): a push cannot loosen the rules it is checked with.
    """
    from sanitize.config import discover
    from sanitize.scan import revrange
    from sanitize.scan.engine import scan_repository

    updates = parse_updates(stdin_text)
    with discover(str(repo)) as found:
        cfg = found.override(rules=rules_file, baseline=baseline)
        report = scan_repository(str(repo), rules_file=cfg.rules.value, baseline=cfg.baseline.value, jobs=1,
                                 select=lambda gdir: revrange.pushed_to_server(gdir, updates))
    return cfg.apply(report)


def install_guard(workdir: str | os.PathLike[str], remote_path: str | os.PathLike[str]) -> Path:
    """Install the hook into the bare repository at ``remote_path``; returns the hook's path.

    Refuses (UsageError) to overwrite a pre-receive hook that is not ours.
    """
    wd = Workdir.open(workdir)
    raw = str(remote_path)
    path = git.Location.parse(raw).path or Path(raw)
    if not path.exists():
        raise UsageError(f"{path}: no such repository (guard install needs the bare repository's path)")
    repo = git.git_dir(path)
    if git.out(["rev-parse", "--is-bare-repository"], cwd=repo) != "true":
        raise UsageError(f"{path}: not a bare repository; install the guard on the server's bare repository")
    hooks_rel = git.out(["rev-parse", "--git-path", "hooks"], cwd=repo)
    hooks = Path(hooks_rel) if Path(hooks_rel).is_absolute() else repo / hooks_rel
    hooks.mkdir(parents=True, exist_ok=True)
    hook = hooks / "pre-receive"
    if hook.exists() and MARKER not in hook.read_text(encoding="utf-8", errors="replace"):
        raise UsageError(f"{hook}: a pre-receive hook already exists; chain ours into it by hand "
                         "(nothing was changed)")
    record = rewrite_record.load(wd)
    rewrite_record.check_plan_unchanged(wd, record)
    ids = record.banned_ids  # purged blobs and every old commit the rewrite changed
    digest = record.plan_digest
    # Read by the hook as whatever user the git server runs as: object ids only, no secret.
    write_atomic(hooks / BANNED_NAME, "".join(i + "\n" for i in ids), mode=0o644)
    deadline = wd.stage("notify").text("deadline")
    write_atomic(hook, render_hook(digest, len(ids), deadline), mode=0o755)
    wd.record("guard", "done", hook=str(hook), banned=len(ids))
    wd.audit.append("guard-installed", hook=str(hook), banned=len(ids), digest=digest)
    return hook
