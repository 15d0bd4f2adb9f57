"""Notices: tell every collaborator exactly what to do about the rewritten history.

Who: every author and committer on the old history of every ref the rewrite
changed (read from ``backup.bundle``, the only place the old history is kept),
merged with an optional roster CSV (``name,email,role``) for people who never
committed. What: one notice per person in Markdown, plain text and a
ready-to-send ``.eml`` (the changed commits' map and the purged list attached for ``migrate``),
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
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email import policy as email_policy
from email.errors import HeaderParseError
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateError,
    TemplateSyntaxError,
)

from sanitize import git, names
from sanitize.artifacts import rewrite_record
from sanitize.errors import UsageError
from sanitize.git import is_hidden
from sanitize.names import Redactor
from sanitize.printable import printable
from sanitize.purge.plan import load_plan
from sanitize.shellquote import quote
from sanitize.workdir import Workdir, write_all

DEFAULT_SENDER = "Security team <security@localhost>"
_SLUG = re.compile(r"[^a-z0-9]+")
# An address we will put in a To: header: one addr-spec, nothing a mail client could read as a second address.
_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
# Identities no person reads: bots, forge web commits, no-reply addresses.
_MACHINE = re.compile(r"\[bot\]|noreply|no-reply|dependabot|pre-commit-ci|renovate|github-actions|web-flow"
                      r"|^github$", re.IGNORECASE)
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#|~&])")
_LFS_HEAD = b"version https://git-lfs.github.com/spec/v1"


@dataclass
class Collaborator:
    """One person to notify: from history, the roster, or both."""

    name: str
    email: str
    role: str = "contributor"
    refs: list[str] = field(default_factory=list)   # changed refs they authored or committed on
    in_history: bool = False
    aliases: list[str] = field(default_factory=list)  # other addresses the roster maps to this person

    @property
    def slug(self) -> str:
        """File-name-safe identifier (from the email): ASCII letters, digits and dashes only, never a path."""
        ascii_only = unicodedata.normalize("NFKD", self.email).encode("ascii", "ignore").decode()
        return _SLUG.sub("-", ascii_only.casefold()).strip("-")[:80] or "unknown"

    @property
    def is_machine(self) -> bool:
        """A bot or a no-reply identity: listed in the team summary, sent no notice."""
        return bool(_MACHINE.search(self.email) or _MACHINE.search(self.name))

    @property
    def mailable(self) -> bool:
        """An address we can put in a To: header as it is."""
        return bool(_ADDRESS.match(self.email))


@dataclass(frozen=True)
class NotifyResult:
    """The people notified and every file written."""

    collaborators: list[Collaborator]
    files: list[Path]
    team_summary: Path
    support_request: Path
    not_notified: list[Collaborator] = field(default_factory=list)   # bots and no-reply identities


def _short(ref: str) -> str:
    for prefix in ("refs/heads/", "refs/tags/"):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


def md(text: object) -> str:
    """Markdown-escape a name or path so it renders as the text it is (no links, HTML, emphasis or tables)."""
    return _MD_SPECIAL.sub(r"\\\1", printable(str(text)))


def code(text: object) -> str:
    """A Markdown code span that holds any text (backticks and pipes included) without breaking out."""
    body = printable(str(text)).replace("|", "\\|")
    fence = "`" * (max((len(m) for m in re.findall(r"`+", body)), default=0) + 1)
    pad = " " if body.startswith("`") or body.endswith("`") else ""
    return f"{fence}{pad}{body}{pad}{fence}"


def _old_history(wd: Workdir, scratch: Path, tips: set[str]) -> Path:
    """A bare repository holding the original history under ``tips`` (old ref values), fetched from
    backup.bundle: objects only, no ref written, so thousands of unchanged refs cost nothing."""
    if not wd.bundle.is_file():
        raise UsageError(f"{wd.bundle}: missing; notices need the original history (run rewrite again)")
    repo = scratch / "old.git"
    git.run(["init", "--quiet", "--bare", str(repo)])
    # By the bundle's own ref names (a name shown redacted in the record is not the one the bundle holds).
    by_value: dict[str, str] = {}
    for ref, sha in sorted(git.bundle.heads(wd.bundle, cwd=repo).items()):
        if sha in tips:
            by_value.setdefault(sha, ref)
    git.bundle.fetch_refs(wd.bundle, repo, sorted(by_value.values()))
    return repo


def _history_people(repo: Path, changed: dict[str, str], red: Redactor | None = None) -> dict[str, Collaborator]:
    people: dict[str, Collaborator] = {}
    show = red.show if red else (lambda text: text)
    for ref, old_tip in sorted(changed.items()):
        # Unit/record separators: a name from a hand-made commit object may hold a line break.
        text = git.out(["log", "--format=%an%x1f%ae%x1f%cn%x1f%ce%x1e", old_tip], cwd=repo)
        for record in text.split("\x1e"):
            an, ae, cn, ce = [*record.strip("\n").split("\x1f"), "", "", "", ""][:4]
            for name, email in ((an, ae), (cn, ce)):
                if not email:
                    continue
                # An identity holding a leaked value is shown redacted (and is then no mailable address).
                name, email = show(name), show(email)
                p = people.setdefault(email.casefold(), Collaborator(name=printable(name), email=email,
                                                                     in_history=True))
                if ref not in p.refs:
                    p.refs.append(ref)
    return people


def _merge_roster(people: dict[str, Collaborator], roster: Roster) -> dict[str, Collaborator]:
    """History identities with the roster applied: aliases folded into one person, dropped ones removed."""
    merged: dict[str, Collaborator] = {}
    for person in roster.people:
        merged[person.email.casefold()] = person
    for key, found in people.items():
        if key in roster.dropped:
            continue
        target = merged.get(roster.aliases.get(key, key))
        if target is None:
            merged[key] = found
            continue
        target.in_history = True
        if target.email.casefold() == found.email.casefold():
            target.email = found.email  # the spelling the history uses
        target.refs += [r for r in found.refs if r not in target.refs]
    return merged


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in text)


@dataclass(frozen=True)
class Roster:
    """The roster: people to notify, addresses mapped to a person, addresses dropped."""

    people: list[Collaborator]
    aliases: dict[str, str] = field(default_factory=dict)   # other address (casefolded) → person's address
    dropped: frozenset[str] = frozenset()                     # addresses (casefolded) nobody is notified at


def read_roster(path: str | os.PathLike[str]) -> list[Collaborator]:
    """Roster CSV ``name,email[,role][,aliases]``; UsageError on a malformed row (see :func:`load_roster`)."""
    return load_roster(path).people


def load_roster(path: str | os.PathLike[str]) -> Roster:
    """Roster CSV with a header row ``name,email[,role][,aliases]``.

    ``aliases``: other addresses of the same person, separated by spaces or ``;``
    (their commits count as theirs, one notice). ``role`` ``drop`` (or ``ignore``):
    nobody at that address (and its aliases) is notified, e.g. an old bot.
    A cell with a control character (CR, LF, NUL, …) is refused: it could split a mail header.
    """
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"{p}: unreadable roster CSV") from exc
    if rows and ("email" not in rows[0] or "name" not in rows[0]):
        raise UsageError(f"{p}: the roster needs a header row 'name,email,role'")
    people: list[Collaborator] = []
    aliases: dict[str, str] = {}
    dropped: set[str] = set()
    for n, row in enumerate(rows, 2):
        cells = {str(k): (v if isinstance(v, str) else " ".join(v or [])) for k, v in row.items() if k is not None}
        if any(_has_control(v) for v in cells.values()) or None in row:
            raise UsageError(f"{p}:{n}: a control character or an extra column (line breaks are not allowed in "
                             "a roster cell)")
        email = (cells.get("email") or "").strip()
        if not _ADDRESS.match(email):
            raise UsageError(f"{p}:{n}: no valid email")
        others = [a for a in re.split(r"[\s;]+", cells.get("aliases") or "") if a]
        bad = next((a for a in others if "@" not in a), None)
        if bad is not None:
            raise UsageError(f"{p}:{n}: alias {printable(bad)!r} is not an email address")
        role = (cells.get("role") or "").strip() or "contributor"
        if role.casefold() in ("drop", "ignore"):
            dropped.update(a.casefold() for a in [email, *others])
            continue
        people.append(Collaborator(name=(cells.get("name") or "").strip() or email, email=email, role=role,
                                   aliases=others))
        aliases.update({a.casefold(): email.casefold() for a in others})
    return Roster(people, aliases, frozenset(dropped))


def _lfs_objects(repo: Path, blobs: list[str]) -> list[dict[str, str]]:
    """LFS pointers among the purged blobs: their objects are orphaned on the host."""
    if not blobs:
        return []
    found = []
    for _oid, kind, body in git.objects.read(repo, blobs):
        if kind == "blob" and body.startswith(_LFS_HEAD) and len(body) < 1024:
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
    env = Environment(loader=ChoiceLoader(loaders), undefined=StrictUndefined, keep_trailing_newline=True,
                      autoescape=False)  # noqa: S701
    env.filters.update(md=md, code=code, text=printable)
    return env


def kit_dir(digest: str) -> str:
    """Where the notice asks a collaborator to save the attached migrate kit (a shell word, already quoted)."""
    return f'"$HOME"/git-sanitize-kit/{digest[:12]}'


def _commands(repo: str, repo_name: str, changed: list[dict[str, Any]], first: list[str],
              digest: str) -> dict[str, list[str]]:
    """The shell lines a collaborator pastes, in order; every value from history or the plan is shlex-quoted.

    Only ids, fixed refspecs and quoted words reach these lines: never a ref name or path in a comment,
    where a line break in it would end the comment.
    """
    q = quote
    kit = kit_dir(digest)
    keep = [f"mkdir -p {kit}",
            # Quiet: git names each pruned ref, and a pruned name may be the leaked value itself.
            "git fetch --quiet origin --prune --force '+refs/heads/*:refs/remotes/origin/*'",
            "git fetch --quiet origin --force '+refs/tags/*:refs/tags/*'"]
    if any(c["ref"].startswith("refs/notes/") for c in changed):
        keep.append("git fetch --quiet origin --force '+refs/notes/*:refs/notes/*'")
    keep += [f"git-sanitize migrate --commit-map {kit}/commit-map --purged {kit}/purged.json",
             f"git-sanitize migrate --finish --commit-map {kit}/commit-map"]
    self_check = [f"git cat-file -e {c} 2>/dev/null && echo 'FAIL: old commit {c[:12]} is still here' "
                  f"|| echo 'ok: old commit {c[:12]} is gone'" for c in first if re.fullmatch(r"[0-9a-f]{40,64}", c)]
    return {
        "safe_commands": [f"git clone {q(repo)} {q(repo_name + '-clean')}"],
        "keep_commands": keep,
        # The names earlier custom templates used: the same single procedure.
        "reset_commands": keep,
        "migrate_commands": keep,
        "selfcheck_commands": self_check,
        "kit_dir": [kit],
    }


def changed_commit_map(path: Path) -> bytes:
    """The commit-map collaborators get: its header and only the commits the rewrite changed.

    The workdir's map lists every commit (unchanged ones map to themselves); ``migrate`` takes a commit
    the map does not list as unchanged, so those lines only make every notice as large as the history.
    """
    if not path.is_file():
        return b""
    lines = path.read_bytes().splitlines(keepends=True)
    kept = [line for line in lines[1:] if len(parts := line.split()) == 2 and parts[0] != parts[1]]
    return b"".join([*lines[:1], *kept])


def _header_text(text: str) -> str:
    """A display name fit for a mail header: control characters (CR/LF first) become spaces."""
    return " ".join("".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text).split())


def _attachment_parts(kit: dict[str, bytes]) -> list[EmailMessage]:
    """The migrate kit as MIME parts, built once: every notice attaches the same parts."""
    parts = []
    for fname, data in kit.items():
        part = EmailMessage(policy=email_policy.SMTP)
        part.set_content(data, maintype="text", subtype="plain", filename=fname, disposition="attachment")
        parts.append(part)
    return parts


def _email(person: Collaborator, body: str, subject: str, sender: str, attachments: list[EmailMessage]) -> bytes:
    """The .eml: built with the standard library, one To: address, no header a name could inject."""
    name, addr = parseaddr(sender)
    if not _ADDRESS.match(addr) or _has_control(sender):
        raise UsageError("--from: not a single plain address such as 'Security <security@example.com>'")
    if not person.mailable:
        raise UsageError(f"{printable(person.email)}: not a plain email address")
    msg = EmailMessage(policy=email_policy.SMTP)
    try:
        msg["From"] = formataddr((_header_text(name), addr))
        msg["To"] = formataddr((_header_text(person.name), person.email))
        msg["Subject"] = _header_text(subject)
    except (HeaderParseError, ValueError) as exc:
        raise UsageError(f"{printable(person.email)}: cannot build a mail header ({exc})") from exc
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain="git-sanitize.invalid")
    msg.set_content(body)
    if attachments:
        msg.make_mixed()
        for part in attachments:
            msg.attach(part)
    return msg.as_bytes()


def notify(workdir: str | os.PathLike[str], *, roster: str | os.PathLike[str] | None = None,
           templates: str | os.PathLike[str] | None = None, deadline: str | date | None = None,
           freeze: str | None = None, sender: str = DEFAULT_SENDER) -> NotifyResult:
    """Render every notice into ``WORKDIR/notices/`` and the migrate kit into ``notices/publish/``."""
    wd = Workdir.open(workdir)
    rec = rewrite_record.load(wd)
    rewrite_record.check_plan_unchanged(wd, rec)
    digest = rec.plan_digest
    source = git.redact_url(rec.source)
    repo_name = Path(source.rstrip("/")).name.removesuffix(".git") or "repository"
    tips = dict(rec.rewritten_tips)
    changed_old = rec.changed_refs
    # A ref whose name held a leaked value was renamed: the notice says which new name replaced it.
    renamed: dict[str, str] = dict(rec.renamed_refs)
    changed: list[dict[str, Any]] = [
        {"ref": ref, "old": old, "new": tips.get(ref), "action": "deleted" if ref not in tips else "rewritten"}
        if ref not in renamed else
        {"ref": ref, "old": old, "new": tips.get(renamed[ref]), "action": "renamed", "renamed_to": renamed[ref]}
        for ref, old in sorted(changed_old.items())]
    visible = [c for c in changed if not is_hidden(c["ref"])]
    pr_refs = [c["ref"] for c in changed if c["ref"].startswith(("refs/pull/", "refs/merge-requests/"))]
    first = sorted(rec.first_changed_commits or set(rec.first_changed.values()))
    plan = load_plan(wd.plan)
    replaced = plan.replace
    removed_paths = sorted(set(plan.paths))
    removed: dict[str, Any] = {
        "paths": removed_paths,
        "replacements": len(replaced),
        "rules": sorted({r.rule for r in replaced if r.rule}),
        "messages": len(plan.messages),
    }
    fix_in_code = [{"path": f.path, "line": f.line, "rule": f.rule} for f in plan.fix_in_code]

    with tempfile.TemporaryDirectory(prefix="notify-", dir=wd.root) as tmp:
        old = _old_history(wd, Path(tmp), {c["old"] for c in changed})
        # Pull-request refs too: their authors (often outside the team) hold old history in their forks.
        red = names.from_plan(load_plan(wd.plan)) if wd.plan.is_file() else None
        people = _history_people(old, {c["ref"]: c["old"] for c in changed}, red)
        lfs = _lfs_objects(old, list(rec.purged_blobs))
    listed = load_roster(roster) if roster else Roster([])
    everyone = sorted(_merge_roster(people, listed).values(), key=lambda p: p.email.casefold())
    machines = [p for p in everyone if p.is_machine]
    collaborators = [p for p in everyone if not p.is_machine]

    deadline_text = printable(str(deadline)) if deadline else "as soon as possible"
    freeze_text = printable(freeze) if freeze else (
        "no pushes to any branch from now until the security team confirms the purge "
        f"(verified push), at the latest {deadline_text}")
    shown = [{**c, "ref": printable(c["ref"]),
              **({"renamed_to": printable(c["renamed_to"])} if "renamed_to" in c else {})} for c in visible]
    removed_shown = {**removed, "paths": [printable(x) for x in removed_paths]}
    ctx: dict[str, Any] = {
        "repo": printable(source), "repo_name": printable(repo_name), "digest": digest,
        "deadline": deadline_text, "freeze": freeze_text, "changed": shown, "first_changed": first,
        "removed": removed_shown, "fix_in_code": [{**f, "path": printable(str(f.get("path")))} for f in fix_in_code],
        "pr_refs": [printable(r) for r in pr_refs], "lfs": lfs, "old_commit_count": len(rec.old_commits),
        "deleted_branches": [printable(c["ref"].removeprefix("refs/heads/")) for c in visible
                             if c["new"] is None and c["ref"].startswith("refs/heads/")],
        "machines": machines, "dropped": len(listed.dropped),
        "renamed": [c for c in shown if c["action"] == "renamed"],
        "required_env": list(plan.fail_closed.names) if plan.fail_closed is not None else [],
        **_commands(source, repo_name, visible, first, digest),
    }
    env = _environment(templates)
    purged = {"schema": "git-sanitize/purged/v1", "paths": removed["paths"],
              "blobs": sorted(rec.purged_blobs),
              "secret_sha256": sorted({r.secret_sha256 for r in replaced}),
              # Values that were part of a ref name: migrate renames local branches and tags holding one.
              "names": red.published() if red is not None else []}
    kit = {"commit-map": changed_commit_map(wd.commit_map),
           "purged.json": (json.dumps(purged, indent=2) + "\n").encode()}
    subject = f"[action required] {repo_name}: history rewritten to remove secrets, reset your clone by {deadline_text}"
    # Everything is rendered into a fresh directory first: the previous notices stay until the new set is complete.
    new = Path(tempfile.mkdtemp(prefix="notices.new-", dir=wd.root))
    try:
        rendered = _render_all(new, env, ctx, collaborators, everyone, kit, subject, sender)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    out = wd.notices
    if out.exists():
        retired = Path(tempfile.mkdtemp(prefix="notices.old-", dir=wd.root))
        os.replace(out, retired / "notices")
        os.replace(new, out)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(new, out)
    files = [out / f.relative_to(new) for f in rendered]
    summary, support = out / "team-summary.md", out / "forge-support-request.md"
    wd.record("notify", "done", collaborators=len(collaborators), deadline=deadline_text, pr_refs=pr_refs,
              lfs_objects=len(lfs), not_notified=len(machines))
    wd.audit.append("notified", collaborators=[p.email for p in collaborators], deadline=deadline_text,
                    not_notified=[p.email for p in machines])
    return NotifyResult(collaborators, files, summary, support, machines)


class _NewFiles:
    """Files written into the fresh notices directory, made durable together before it is renamed into place.

    The directory is new and private, so each file is written once (no temporary and rename per file); one
    fsync each, issued from a thread pool so the filesystem's journal commits them in a few batches
    (one by one, hundreds of notices spent seconds in fsync), then the directories.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.paths: list[Path] = []

    def write(self, path: Path, data: bytes) -> Path:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            write_all(fd, data)
        finally:
            os.close(fd)
        self.paths.append(path)
        return path

    def sync(self) -> None:
        dirs = sorted({p.parent for p in self.paths} | {self.root})
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(_fsync_path, self.paths))
            list(pool.map(_fsync_path, dirs))


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0))
    try:
        os.fsync(fd)
    except OSError:
        pass  # a filesystem that refuses fsync on a directory: the rename is still atomic
    finally:
        os.close(fd)


def _render_all(out: Path, env: Environment, ctx: dict[str, Any], collaborators: list[Collaborator],
                everyone: list[Collaborator], kit: dict[str, bytes], subject: str, sender: str) -> list[Path]:
    """Write the whole notice set into ``out`` (a new directory); UsageError on a template error."""
    (out / "publish").mkdir(mode=0o700)
    new = _NewFiles(out)
    for name, data in kit.items():
        new.write(out / "publish" / name, data)
    attachments = _attachment_parts(kit)
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
                new.write(out / f"{stem}.{ext}", env.get_template(tpl).render(pctx).encode("utf-8"))
            if person.mailable:
                body = env.get_template("notice.eml.j2").render(pctx)
                new.write(out / f"{stem}.eml", _email(person, body, subject, sender, attachments))
        summary = new.write(out / "team-summary.md", env.get_template("team-summary.md.j2").render(
            {**ctx, "people": collaborators, "everyone": everyone}).encode("utf-8"))
        support = new.write(out / "forge-support-request.md",
                            env.get_template("forge-support-request.md.j2").render(ctx).encode("utf-8"))
    except TemplateError as exc:
        where = f"{exc.filename}:{exc.lineno}: " if isinstance(exc, TemplateSyntaxError) and exc.filename else ""
        text = " ".join(str(exc.message or type(exc).__name__).split())
        raise UsageError(f"notice template error: {where}{text} (the previous notices were kept)") from exc
    new.sync()
    files = [p for p in new.paths if p not in (summary, support)]
    return [*files, summary, support]
