"""Notices: tell every collaborator exactly what to do about the rewritten history.

Who: every author and committer on the old history of every ref the rewrite
changed (read from ``backup.bundle``, the only place the old history is kept),
merged with an optional roster CSV (``name,email,role``) for people who never
committed. What: one notice per person in Markdown, plain text and a
ready-to-send ``.eml`` (commit-map and purged list attached for ``migrate``),
one team summary, and the request to the hosting provider's support.

Every template gets only ids, ref names, paths and counts: no value from
plan.secrets ever reaches a renderer.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined, TemplateError

from sanitize import git
from sanitize.approval import current_digest, rewrite_detail
from sanitize.errors import UsageError
from sanitize.push import is_hidden
from sanitize.workdir import Workdir, write_atomic

DEFAULT_SENDER = "Security team <security@localhost>"
_SLUG = re.compile(r"[^a-z0-9]+")
_LFS_HEAD = b"version https://git-lfs.github.com/spec/v1"


@dataclass
class Collaborator:
    """One person to notify: from history, the roster, or both."""

    name: str
    email: str
    role: str = "contributor"
    refs: list[str] = field(default_factory=list)   # changed refs they authored or committed on
    in_history: bool = False

    @property
    def slug(self) -> str:
        """File-name-safe identifier (from the email)."""
        return _SLUG.sub("-", self.email.casefold()).strip("-") or "unknown"


@dataclass(frozen=True)
class NotifyResult:
    """The people notified and every file written."""

    collaborators: list[Collaborator]
    files: list[Path]
    team_summary: Path
    support_request: Path


def _short(ref: str) -> str:
    for prefix in ("refs/heads/", "refs/tags/"):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


def _old_history(wd: Workdir, scratch: Path) -> Path:
    """A bare repository holding the original refs, fetched from backup.bundle."""
    if not wd.bundle.is_file():
        raise UsageError(f"{wd.bundle}: missing; notices need the original history (run rewrite again)")
    repo = scratch / "old.git"
    git.run(["init", "--quiet", "--bare", str(repo)])
    git.run(["fetch", "--quiet", str(wd.bundle.resolve()), "+refs/*:refs/*"], cwd=repo)
    return repo


def _history_people(repo: Path, changed: dict[str, str]) -> dict[str, Collaborator]:
    people: dict[str, Collaborator] = {}
    for ref, old_tip in sorted(changed.items()):
        text = git.out(["log", "--format=%an%x00%ae%x00%cn%x00%ce", old_tip], cwd=repo)
        for line in text.splitlines():
            an, ae, cn, ce = [*line.split("\x00"), "", "", "", ""][:4]
            for name, email in ((an, ae), (cn, ce)):
                if not email:
                    continue
                p = people.setdefault(email.casefold(), Collaborator(name=name, email=email, in_history=True))
                if ref not in p.refs:
                    p.refs.append(ref)
    return people


def read_roster(path: str | os.PathLike[str]) -> list[Collaborator]:
    """Roster CSV with a header row ``name,email[,role]``; UsageError on a malformed row."""
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"{p}: unreadable roster CSV") from exc
    if rows and ("email" not in rows[0] or "name" not in rows[0]):
        raise UsageError(f"{p}: the roster needs a header row 'name,email,role'")
    people = []
    for n, row in enumerate(rows, 2):
        email = (row.get("email") or "").strip()
        if "@" not in email:
            raise UsageError(f"{p}:{n}: no valid email")
        people.append(Collaborator(name=(row.get("name") or "").strip() or email, email=email,
                                   role=(row.get("role") or "").strip() or "contributor"))
    return people


def _lfs_objects(repo: Path, blobs: list[str]) -> list[dict[str, str]]:
    """LFS pointers among the purged blobs: their objects are orphaned on the host."""
    if not blobs:
        return []
    proc = git.run(["cat-file", "--batch"], cwd=repo, input=("\n".join(blobs) + "\n").encode())
    data, found, pos = proc.stdout, [], 0
    while pos < len(data):
        end = data.index(b"\n", pos)
        header = data[pos:end].split()
        pos = end + 1
        if len(header) < 3 or header[1] == b"missing":
            continue
        size = int(header[2])
        body = data[pos:pos + size]
        pos += size + 1
        if header[1] == b"blob" and body.startswith(_LFS_HEAD) and size < 1024:
            fields = dict(line.split(b" ", 1) for line in body.splitlines() if b" " in line)
            oid = fields.get(b"oid", b"").decode("ascii", "replace").removeprefix("sha256:")
            found.append({"oid": oid, "size": fields.get(b"size", b"?").decode("ascii", "replace")})
    return found


def _environment(templates: str | os.PathLike[str] | None) -> Environment:
    loaders: list[Any] = []
    if templates is not None:
        if not Path(templates).is_dir():
            raise UsageError(f"{templates}: --templates must be a directory")
        loaders.append(FileSystemLoader(str(templates)))
    loaders.append(PackageLoader("sanitize", "templates/notices"))
    # Markdown and plain text, not HTML: autoescape would mangle commands.
    return Environment(loader=ChoiceLoader(loaders), undefined=StrictUndefined, keep_trailing_newline=True,
                       autoescape=False)  # noqa: S701


def _commands(repo: str, repo_name: str, changed: list[dict[str, Any]], first: list[str]) -> dict[str, list[str]]:
    branches = [c for c in changed if c["ref"].startswith("refs/heads/")]
    tags = [c for c in changed if c["ref"].startswith("refs/tags/")]
    reset = ["git fetch origin --prune --force '+refs/heads/*:refs/remotes/origin/*'"]
    for b in branches:
        name = _short(b["ref"])
        if b["new"]:
            reset.append(f"git checkout {name} && git reset --hard origin/{name}")
        else:
            reset.append(f"git branch -D {name}   # deleted by the purge")
    reset += [f"git tag -d {_short(t['ref'])}" for t in tags]
    if any(t["new"] for t in tags):
        reset.append("git fetch origin --force --tags")
    if any(c["ref"].startswith("refs/notes/") for c in changed):
        reset.append("git fetch origin --force '+refs/notes/*:refs/notes/*'   # only if you fetch notes")
    reset += ["git stash list   # stashes made before the purge hold old history: re-apply, then git stash clear",
              "git reflog expire --expire=now --all",
              "git gc --prune=now"]
    self_check = [f"git cat-file -t {c}" for c in first] + [f"git for-each-ref --contains {c}" for c in first]
    return {
        "safe_commands": [f"git clone {repo} {repo_name}-clean",
                          "# move uncommitted files over by hand; delete the old clone when done"],
        "reset_commands": reset,
        "migrate_commands": ["git fetch origin --prune --force '+refs/heads/*:refs/remotes/origin/*'",
                             "git-sanitize migrate --commit-map commit-map --purged purged.json",
                             "git push origin <branch>   # only the migrated branches",
                             "# once the migrated work looks right, drop the backups (they hold old history):",
                             "git for-each-ref --format='delete %(refname)' refs/sanitize-backup/ | "
                             "git update-ref --stdin"],
        "selfcheck_commands": self_check,
    }


def _email(person: Collaborator, body: str, subject: str, sender: str, attachments: dict[str, bytes]) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = f"{person.name} <{person.email}>"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain="git-sanitize.invalid")
    msg.set_content(body)
    for name, data in attachments.items():
        msg.add_attachment(data, maintype="text", subtype="plain", filename=name)
    return msg.as_bytes()


def notify(workdir: str | os.PathLike[str], *, roster: str | os.PathLike[str] | None = None,
           templates: str | os.PathLike[str] | None = None, deadline: str | date | None = None,
           freeze: str | None = None, sender: str = DEFAULT_SENDER) -> NotifyResult:
    """Render every notice into ``WORKDIR/notices/`` and the migrate kit into ``notices/publish/``."""
    wd = Workdir.open(workdir)
    rec = rewrite_detail(wd)
    digest = current_digest(wd)
    source = git.redact_url(str(rec.get("source") or ""))
    repo_name = Path(source.rstrip("/")).name.removesuffix(".git") or "repository"
    at_scan: dict[str, str] = dict(rec.get("tips_at_scan") or {})
    tips: dict[str, str] = dict(rec.get("rewritten_tips") or {})
    changed_old = {ref: old for ref, old in at_scan.items() if tips.get(ref) != old}
    changed: list[dict[str, Any]] = [
        {"ref": ref, "old": old, "new": tips.get(ref), "action": "deleted" if ref not in tips else "rewritten"}
        for ref, old in sorted(changed_old.items())]
    visible = [c for c in changed if not is_hidden(c["ref"])]
    pr_refs = [c["ref"] for c in changed if c["ref"].startswith(("refs/pull/", "refs/merge-requests/"))]
    first = sorted(rec.get("first_changed_commits") or set((rec.get("first_changed") or {}).values()))
    plan = json.loads(wd.plan.read_text(encoding="utf-8")) if wd.plan.is_file() else {}
    actions = plan.get("actions") or {}
    replaced = actions.get("replace") or []
    removed = {
        "paths": sorted({str(d.get("path")) for d in actions.get("delete_paths") or []}),
        "replacements": len(replaced),
        "rules": sorted({str(r.get("rule")) for r in replaced if r.get("rule")}),
        "messages": len(actions.get("messages") or []),
    }
    fix_in_code = [{"path": f.get("path"), "line": f.get("line"), "rule": f.get("rule")}
                   for f in plan.get("fix_in_code") or []]

    with tempfile.TemporaryDirectory(prefix="notify-", dir=wd.root) as tmp:
        old = _old_history(wd, Path(tmp))
        # Pull-request refs too: their authors (often outside the team) hold old history in their forks.
        people = _history_people(old, {c["ref"]: c["old"] for c in changed})
        lfs = _lfs_objects(old, list(rec.get("purged_blobs") or []))
    for extra in read_roster(roster) if roster else []:
        known = people.get(extra.email.casefold())
        if known:
            known.role, known.name = extra.role, extra.name or known.name
        else:
            people[extra.email.casefold()] = extra
    collaborators = sorted(people.values(), key=lambda p: p.email.casefold())

    deadline_text = str(deadline) if deadline else "as soon as possible"
    freeze_text = freeze or ("no pushes to any branch from now until the security team confirms the purge "
                             f"(verified push), at the latest {deadline_text}")
    ctx: dict[str, Any] = {
        "repo": source, "repo_name": repo_name, "digest": digest, "deadline": deadline_text, "freeze": freeze_text,
        "changed": visible, "first_changed": first, "removed": removed, "fix_in_code": fix_in_code,
        "pr_refs": pr_refs, "lfs": lfs, "old_commit_count": len(rec.get("old_commits") or []),
        **_commands(source, repo_name, visible, first),
    }
    env = _environment(templates)
    out = wd.notices
    if out.exists():
        shutil.rmtree(out)
    (out / "publish").mkdir(parents=True, mode=0o700)
    purged = {"schema": "git-sanitize/purged/v1", "paths": removed["paths"],
              "blobs": sorted(rec.get("purged_blobs") or []),
              "secret_sha256": sorted({str(r.get("secret_sha256")) for r in replaced if r.get("secret_sha256")})}
    kit = {"commit-map": wd.commit_map.read_bytes() if wd.commit_map.is_file() else b"",
           "purged.json": (json.dumps(purged, indent=2) + "\n").encode()}
    files: list[Path] = []
    for name, data in kit.items():
        (out / "publish" / name).write_bytes(data)
        files.append(out / "publish" / name)
    subject = f"[action required] {repo_name}: history rewritten to remove secrets, reset your clone by {deadline_text}"
    try:
        used: set[str] = {"team-summary", "forge-support-request", "publish"}
        for person in collaborators:
            pctx = {**ctx, "person": person}
            stem, n = person.slug, 1
            while stem in used:  # a.b@x and a-b@x share a slug: one notice each all the same
                n += 1
                stem = f"{person.slug}-{n}"
            used.add(stem)
            for ext, tpl in (("md", "notice.md.j2"), ("txt", "notice.txt.j2")):
                path = out / f"{stem}.{ext}"
                write_atomic(path, env.get_template(tpl).render(pctx))
                files.append(path)
            eml = out / f"{stem}.eml"
            eml.write_bytes(_email(person, env.get_template("notice.eml.j2").render(pctx), subject, sender, kit))
            files.append(eml)
        summary = out / "team-summary.md"
        write_atomic(summary, env.get_template("team-summary.md.j2").render({**ctx, "people": collaborators}))
        support = out / "forge-support-request.md"
        write_atomic(support, env.get_template("forge-support-request.md.j2").render(ctx))
    except TemplateError as exc:
        raise UsageError(f"notice template error: {exc.message or type(exc).__name__}") from exc
    files += [summary, support]
    wd.record("notify", "done", collaborators=len(collaborators), deadline=deadline_text, pr_refs=pr_refs,
              lfs_objects=len(lfs))
    wd.audit.append("notified", collaborators=[p.email for p in collaborators], deadline=deadline_text)
    return NotifyResult(collaborators, files, summary, support)
