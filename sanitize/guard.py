"""The re-contamination guard: a server-side pre-receive hook.

After the purge, one collaborator pushing an un-reset clone would bring every
purged object back. The hook lists the objects a push brings in
(``git rev-list --objects <new> --not --all``) and rejects the push if any is a
purged blob or an old (pre-rewrite) commit. The banned ids are written beside
the hook; the hook itself is plain POSIX sh so any git server can run it.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from sanitize import git
from sanitize.approval import current_digest, rewrite_detail
from sanitize.errors import UsageError
from sanitize.workdir import Workdir, write_atomic

MARKER = "git-sanitize re-contamination guard"
BANNED_NAME = "sanitize-guard-banned"


def render_hook(digest: str, banned_count: int, deadline: str | None = None) -> str:
    """The pre-receive script text (templates/hooks/pre-receive.j2)."""
    env = Environment(loader=PackageLoader("sanitize", "templates/hooks"), undefined=StrictUndefined,
                      keep_trailing_newline=True, autoescape=False)  # noqa: S701 - a shell script, not HTML
    return env.get_template("pre-receive.j2").render(
        digest=digest, banned_name=BANNED_NAME, banned_count=banned_count, deadline=deadline,
        generated=datetime.now(UTC).date().isoformat())


def banned_ids(wd: Workdir) -> list[str]:
    """Purged blob ids and every old commit id the rewrite changed."""
    rec = rewrite_detail(wd)
    ids = set(rec.get("purged_blobs") or []) | set(rec.get("old_commits") or [])
    ids |= set(rec.get("first_changed_commits") or [])
    return sorted(str(i) for i in ids)


def install_guard(workdir: str | os.PathLike[str], remote_path: str | os.PathLike[str]) -> Path:
    """Install the hook into the bare repository at ``remote_path``; returns the hook's path.

    Refuses (UsageError) to overwrite a pre-receive hook that is not ours.
    """
    wd = Workdir.open(workdir)
    raw = str(remote_path)
    path = Path(raw[len("file://"):] if raw.startswith("file://") else raw)
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
    ids = banned_ids(wd)
    digest = current_digest(wd)
    write_atomic(hooks / BANNED_NAME, "".join(i + "\n" for i in ids))
    deadline = wd.stage("notify").get("deadline")
    write_atomic(hook, render_hook(digest, len(ids), str(deadline) if deadline else None))
    hook.chmod(0o755)
    wd.record("guard", "done", hook=str(hook), banned=len(ids))
    wd.audit.append("guard-installed", hook=str(hook), banned=len(ids), digest=digest)
    return hook
