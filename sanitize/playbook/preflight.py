"""``run PLAYBOOK --check``: every input of a purge validated before stage 1, nothing changed.

A purge that stops at stage 9 on a typo in the rotation config has already
force-pushed; one that stops at stage 4 on a missing roster has already
rewritten. So ``run`` calls :func:`check_playbook` first and starts nothing
unless every check passes, and ``run --check`` prints the checks alone.

Each check is one :class:`Check`: ``ok`` with what was found, or a problem
with the exact fix. Nothing here writes a file, creates the workdir, or
prints: the ``cli`` package does the printing. Environment variables are
named, never shown: a check says whether ``VAULT_TOKEN`` is set, not what
it holds.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sanitize import git
from sanitize.errors import SanitizeError, UsageError
from sanitize.playbook.config import Playbook

NOTICE_TEMPLATES = ("notice.md.j2", "notice.txt.j2", "notice.eml.j2", "team-summary.md.j2",
                    "forge-support-request.md.j2")
_KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ssh-dss", "ecdsa-sha2-", "sk-ssh-ed25519@openssh.com",
              "sk-ecdsa-sha2-")


@dataclass(frozen=True)
class Check:
    """One thing checked: ``ok``, or ``problem`` (the run refuses) or ``warning`` (the run goes on)."""

    name: str
    status: str  # "ok" | "warning" | "problem"
    detail: str

    @property
    def failed(self) -> bool:
        return self.status == "problem"

    def line(self) -> str:
        """The line ``run --check`` prints for it."""
        label = {"ok": "ok", "warning": "warning", "problem": "PROBLEM"}[self.status]
        return f"{label:<8} {self.name}: {self.detail}"


def _ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def _problem(name: str, detail: str) -> Check:
    return Check(name, "problem", detail)


def _warning(name: str, detail: str) -> Check:
    return Check(name, "warning", detail)


def check_playbook(pb: Playbook, *, env: Mapping[str, str] | None = None) -> list[Check]:
    """Every check for ``pb``, in the order the stages need them; never raises for bad input."""
    environ = os.environ if env is None else env
    steps: list[Callable[[], Iterator[Check]]] = []
    if pb.is_purge:
        steps += [lambda: _source(pb), lambda: _remote(pb), lambda: _workdir(pb), lambda: _rules(pb),
                  lambda: _baseline(pb), lambda: _roster(pb), lambda: _templates(pb), lambda: _deadline(pb),
                  lambda: _approvals(pb), lambda: _guard(pb)]
    steps.append(lambda: _rotation(pb, environ))
    checks: list[Check] = []
    for step in steps:
        checks.extend(step())
    return checks


def failures(checks: list[Check]) -> list[Check]:
    """The checks that stop a run."""
    return [c for c in checks if c.failed]


# Where from, where to ----------------------------------------------------------------------------
def _source(pb: Playbook) -> Iterator[Check]:
    assert pb.source is not None
    loc = pb.source
    shown = loc.shown
    try:
        tips = git.remote_refs(loc) if loc.is_url else _local_refs(loc.path or Path(shown))
    except SanitizeError as exc:
        fix = ("check the URL and that this machine can fetch from it (git ls-remote URL)" if loc.is_url
               else "fix 'source:' in the playbook (a bare repository or a clone; relative to the playbook)")
        said = git.redact_url(str(exc))
        yield _problem("source", f"{said if said.startswith(shown) else f'{shown}: {said}'}; {fix}")
        return
    if not tips:
        yield _warning("source", f"{shown}: no refs at all (nothing to purge); is 'source:' the repository that "
                                 "holds the leak?")
        return
    yield _ok("source", f"{shown} reachable, {len(tips)} ref(s)")
    if not loc.is_url and loc.path is not None:
        yield from _work_tree_source(str(loc.path))


def _local_refs(path: Path) -> dict[str, str]:
    git.git_dir(path)  # names a missing path or a non-repository in git's own words
    if git.is_shallow(path):
        raise SanitizeError("a shallow clone (part of the history is missing)")
    if git.is_partial(path):
        raise SanitizeError("a partial clone (some objects live only on its promisor remote)")
    return git.refs(path)


def work_tree_remotes(path: str) -> list[str]:
    """The remote URLs of a work clone (redacted); [] for a bare repository, a URL or no remotes."""
    if git.is_url(path) or not Path(path).is_dir() or git.work_tree_of(path) is None:
        return []
    proc = git.run(["config", "--get-regexp", r"^remote\..*\.url$"], cwd=path, check=False)
    return [git.redact_url(line.split(" ", 1)[1]) for line in git.lines(proc.stdout.decode("utf-8", "replace"))
            if " " in line]


def work_tree_hint(path: str) -> str | None:
    """What to scan instead of a work clone with remotes: its remote-tracking refs are another repository's
    branches, and a purge of the clone pushes to the clone, not to the shared repository."""
    urls = work_tree_remotes(path)
    if not urls:
        return None
    return (f"{path} is a work clone of {', '.join(urls)}: for a purge, scan {urls[0]} (or a bare mirror of it); "
            "this clone's remote-tracking refs are copies of that repository's branches")


def _work_tree_source(path: str) -> Iterator[Check]:
    """A work clone as the source: its remote-tracking refs are someone else's branches."""
    urls = work_tree_remotes(path)
    if urls:
        yield _warning("source", f"a work tree with remote(s) ({', '.join(urls)}): the purge pushes to this clone, "
                                 f"not to the shared repository; set 'source:' to {urls[0]} (or a bare mirror of it)")


def _remote(pb: Playbook) -> Iterator[Check]:
    if pb.remote is None or pb.remote == pb.source:
        return
    loc = pb.remote
    shown = loc.shown
    try:
        if loc.is_url:
            git.remote_refs(loc)
        else:
            git.git_dir(loc.path or Path(shown))
    except SanitizeError as exc:
        said = git.redact_url(str(exc))
        yield _problem("remote", f"{said if said.startswith(shown) else f'{shown}: {said}'}; fix 'remote:' in the "
                                 "playbook")
        return
    yield _ok("remote", f"{shown} reachable")


def _workdir(pb: Playbook) -> Iterator[Check]:
    assert pb.workdir is not None
    wd = pb.workdir
    if wd.is_symlink() or (wd.exists() and not wd.is_dir()):
        yield _problem("workdir", f"{wd}: not a directory; name a new or existing workdir in 'workdir:'")
        return
    if wd.exists():
        st = wd.stat()
        if st.st_uid != os.geteuid():
            yield _problem("workdir", f"{wd}: belongs to another user (uid {st.st_uid}); use a workdir of your own")
            return
        if not os.access(wd, os.W_OK | os.X_OK):
            yield _problem("workdir", f"{wd}: not writable by you; chmod u+rwx it or choose another 'workdir:'")
            return
        owner = _workdir_source(wd)
        if owner is not None and pb.source is not None and git.redact_url(owner) != pb.source.shown:
            yield _problem("workdir", f"{wd}: belongs to a purge of {git.redact_url(owner)}; use another workdir")
            return
        where = "resumes the purge there" if (wd / "state.json").is_file() else "exists, empty of a purge"
        yield _ok("workdir", f"{wd} usable ({where})")
    else:
        parent = next((p for p in wd.parents if p.exists()), None)
        if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            yield _problem("workdir", f"{wd}: cannot be created ({parent} is not a writable directory); "
                                      "choose another 'workdir:'")
            return
        yield _ok("workdir", f"{wd} will be created (mode 0700)")
    yield from _space(pb, wd)


def _workdir_source(wd: Path) -> str | None:
    import json

    try:
        data = json.loads((wd / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    meta = data.get("meta") if isinstance(data, dict) else None
    source = meta.get("source") if isinstance(meta, dict) else None
    return source if isinstance(source, str) else None


def _space(pb: Playbook, wd: Path) -> Iterator[Check]:
    """The mirror and the backup bundle each take about the repository's size."""
    assert pb.source is not None
    if pb.source.is_url or pb.source.path is None:
        return
    try:
        size = sum(f.stat().st_size for f in git.git_dir(pb.source.path).rglob("*") if f.is_file())
        free = shutil.disk_usage(next(p for p in (wd, *wd.parents) if p.exists())).free
    except (OSError, SanitizeError, StopIteration):
        return
    if free < 2 * size:
        yield _problem("workdir", f"{free >> 20} MiB free where the workdir goes, the mirror and backup need about "
                                  f"{(2 * size) >> 20} MiB; free space or choose another 'workdir:'")


# Scan inputs ---------------------------------------------------------------------------------------
def _rules(pb: Playbook) -> Iterator[Check]:
    if pb.rules is None:
        return
    from sanitize.scan.rules import load_custom_rules

    try:
        rules = load_custom_rules(pb.rules)
    except SanitizeError as exc:
        yield _problem("rules", f"{exc}; fix the file or the 'rules:' path")
        return
    yield _ok("rules", f"{pb.rules}: {len(rules)} rule(s)")


def _baseline(pb: Playbook) -> Iterator[Check]:
    if pb.baseline is None:
        return
    from sanitize.scan.baseline import load_baseline

    try:
        load_baseline(pb.baseline)
    except SanitizeError as exc:
        yield _problem("baseline", f"{exc}; fix the file or the 'baseline:' path")
        return
    yield _ok("baseline", f"{pb.baseline} loads")


# Notices -----------------------------------------------------------------------------------------
def _roster(pb: Playbook) -> Iterator[Check]:
    roster = pb.notify.roster
    if roster is None:
        yield _ok("roster", "none: notices go to the history's authors and committers only")
        return
    from sanitize.collaborator.notify import load_roster

    try:
        found = load_roster(roster)
    except SanitizeError as exc:
        detail = str(exc)
        if not roster.exists():
            detail = f"{roster}: no such file; fix 'notify.roster' (relative to the playbook)"
        yield _problem("roster", f"{detail}; the header row is name,email[,role][,aliases]")
        return
    dropped = f", {len(found.dropped)} address(es) dropped" if found.dropped else ""
    yield _ok("roster", f"{roster}: {len(found.people)} people{dropped}")


def _templates(pb: Playbook) -> Iterator[Check]:
    from sanitize.collaborator.notice_check import check_templates

    templates = pb.notify.templates
    if templates is None:
        yield _ok("templates", "built-in notice templates")
        return
    if not templates.is_dir():
        yield _problem("templates", f"{templates}: not a directory; fix 'notify.templates' (a directory of "
                                    f"{', '.join(NOTICE_TEMPLATES)})")
        return
    problems, used = check_templates(templates, NOTICE_TEMPLATES)
    for problem in problems:
        yield _problem("templates", problem)
    others = sorted(p.name for p in templates.iterdir() if p.is_file() and p.name not in NOTICE_TEMPLATES)
    if others:
        yield _warning("templates", f"{templates}: {', '.join(others)} override no notice (names used: "
                                    f"{', '.join(NOTICE_TEMPLATES)}); rename it if it was meant to")
    if not problems:
        overridden = ", ".join(used) if used else "none (built-in ones used)"
        yield _ok("templates", f"{templates}: render with every variable the notices get; overrides {overridden}")


def _deadline(pb: Playbook) -> Iterator[Check]:
    deadline = pb.notify.deadline
    if deadline is None:
        yield _warning("deadline", "no 'notify.deadline': notices say \"as soon as possible\"")
        return
    if date.fromisoformat(deadline) < date.today():
        yield _warning("deadline", f"notify.deadline {deadline} is in the past; notices not yet sent would state it: "
                                   "set a date collaborators can meet")
        return
    yield _ok("deadline", deadline)


# Approvals and guard -----------------------------------------------------------------------------
def _approvals(pb: Playbook) -> Iterator[Check]:
    required = pb.approvals_required
    if pb.allowed_signers is None:
        yield _warning("approvals", f"{required} required, unsigned (names as typed; anyone with the workdir can "
                                    "approve); name 'approvals.allowed_signers' to require SSH signatures")
        return
    path = pb.allowed_signers
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        yield _problem("approvals", f"allowed_signers {path}: no such file; fix 'approvals.allowed_signers' or create "
                                    "it (one line per approver: PRINCIPAL KEYTYPE BASE64KEY)")
        return
    except (OSError, UnicodeDecodeError) as exc:
        yield _problem("approvals", f"allowed_signers {path}: cannot read it ({exc.__class__.__name__}); "
                                    "make it readable by you")
        return
    principals, bad = _signers(text)
    if bad:
        yield _problem("approvals", f"allowed_signers {path}:{bad[0]}: not PRINCIPAL KEYTYPE BASE64KEY; fix that line "
                                    "(copy the key from the approver's .pub file)")
        return
    if len(principals) < required:
        yield _problem("approvals", f"allowed_signers {path} names {len(principals)} approver(s), the playbook needs "
                                    f"{required}: add their keys or lower 'approvals.required'")
        return
    if shutil.which("ssh-keygen") is None:
        yield _problem("approvals", "ssh-keygen is not on PATH (signed approvals need it); install openssh-client")
        return
    yield _ok("approvals", f"{required} required, signed by a key in {path} ({len(principals)} approver(s))")


def _signers(text: str) -> tuple[set[str], list[int]]:
    """The principals of an allowed_signers file, and the numbers of lines that are not one."""
    import base64
    import binascii

    principals: set[str] = set()
    bad: list[int] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words = line.split()
        at = next((i for i, w in enumerate(words) if i > 0 and w.startswith(_KEY_TYPES)), None)
        try:
            ok = at is not None and at + 1 < len(words) and bool(base64.b64decode(words[at + 1], validate=True))
        except (binascii.Error, ValueError):
            ok = False
        if not ok:
            bad.append(n)
            continue
        principals.update(p for p in words[0].split(",") if p)
    return principals, bad


def _guard(pb: Playbook) -> Iterator[Check]:
    remote = pb.remote or pb.source
    assert remote is not None
    if not pb.guard:
        yield _ok("guard", "off (guard: false)")
        return
    if remote.is_url or remote.path is None:
        yield _warning("guard", f"{remote.shown} is not a local path: install the pre-receive hook on the "
                                "server after the push (`git-sanitize guard install`)")
        return
    try:
        hooks = git.git_dir(remote.path) / "hooks"
    except SanitizeError:
        return  # said by the source/remote check
    if not os.access(hooks if hooks.is_dir() else hooks.parent, os.W_OK):
        yield _problem("guard", f"{hooks}: not writable by you, the pre-receive hook cannot be installed; run as the "
                                "repository's owner or set 'guard: false' and install it by hand")
        return
    yield _ok("guard", f"pre-receive hook goes into {hooks}")


# Rotation ------------------------------------------------------------------------------------------
def _rotation(pb: Playbook, env: Mapping[str, str]) -> Iterator[Check]:
    if pb.rotate is None:
        if pb.is_purge:
            yield _warning("rotate", "no 'rotate:' config: every exposed credential must be rotated by hand")
        return
    from rotation.config import load_config

    raw = _yaml(pb.rotate)
    names = sorted(set(_env_names(raw)) | _default_env_names(raw))
    missing = [n for n in names if not env.get(n)]
    for name in missing:
        yield _problem("rotate", f"environment variable {name} (named by {pb.rotate}) is not set; export it before "
                                 "the run")
    try:
        config = load_config(pb.rotate, env=env)
    except SanitizeError as exc:
        if not missing or "environment variable" not in str(exc):
            yield _problem("rotate", f"{exc}; fix the rotation config or the 'rotate:' path")
        return
    if missing:
        return
    shown = ", ".join(names) if names else "none"
    yield _ok("rotate", f"{pb.rotate}: {len(config.secrets)} secret(s) on {config.backend.type}; "
                        f"environment variables set: {shown}")
    yield from _backend(config)


def _yaml(path: Path) -> Any:
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return None  # load_config says why in its own words


def _env_names(node: Any) -> Iterator[str]:
    """Every ``*_env: NAME`` value in the config, at any depth."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if isinstance(key, str) and key.endswith("_env") and isinstance(value, str) and value:
                yield value
            else:
                yield from _env_names(value)
    elif isinstance(node, list):
        for item in node:
            yield from _env_names(item)


def _default_env_names(raw: Any) -> set[str]:
    """Variables the config uses without naming them: Vault's token (VAULT_TOKEN) and address."""
    backend = raw.get("backend") if isinstance(raw, Mapping) else None
    if not isinstance(backend, Mapping) or backend.get("type") != "vault":
        return set()
    names = set() if backend.get("token_env") else {"VAULT_TOKEN"}
    if not backend.get("url"):
        names.add("VAULT_ADDR")
    return names


def _backend(config: Any) -> Iterator[Check]:
    """The store answers and accepts our credentials (read-only calls; nothing is written)."""
    backend = config.backend
    if backend.type == "vault":
        import hvac
        import requests

        client = hvac.Client(url=backend.url, token=backend.token.reveal(), timeout=5)
        try:
            client.auth.token.lookup_self()
        except hvac.exceptions.Forbidden:
            yield _problem("rotate", f"Vault at {git.redact_url(backend.url)} refuses the token in "
                                     f"{backend.token_env}; export a valid token")
            return
        except (hvac.exceptions.VaultError, requests.RequestException) as exc:
            yield _problem("rotate", f"Vault at {git.redact_url(backend.url)} does not answer "
                                     f"({exc.__class__.__name__}); check 'backend.url' and that Vault is up")
            return
        yield _ok("rotate", f"Vault at {git.redact_url(backend.url)} answers and accepts the token in "
                            f"{backend.token_env}")
        return
    import boto3

    if boto3.session.Session().get_credentials() is None:
        yield _problem("rotate", "no AWS credentials found (environment, profile or instance role); configure them "
                                 "before the run")
        return
    yield _ok("rotate", f"AWS credentials found for region {backend.region}")


def raise_if_failed(checks: list[Check], playbook: str, *, listed: bool) -> None:
    """UsageError (exit 2) when any check failed: the first problem, and how to see them all."""
    import shlex

    failed = failures(checks)
    if not failed:
        return
    if listed:
        raise UsageError(f"{len(failed)} of {len(checks)} checks failed (PROBLEM lines above); nothing was changed")
    more = (f" (and {len(failed) - 1} more problem(s): git-sanitize run {shlex.quote(playbook)} --check)"
            if len(failed) > 1 else "")
    raise UsageError(f"{failed[0].name}: {failed[0].detail}{more}; nothing was started")
