"""The purge plan: what the rewrite will delete, replace and reword, for review and sign-off.

``make_plan`` turns a findings file into three artifacts beside each other:

- ``plan.json`` (schema ``git-sanitize/plan/v1``): the source, the ref tips the
  scan saw, the actions with the finding ids they cover, "fix in code" items, a
  summary, and ``digest``. It never holds a secret value.
- ``plan.secrets`` (mode 0600): the literal values to replace, one per line, in
  git-filter-repo's ``--replace-text`` syntax, so rewrite can hand it over as is.
- ``plan.md``: the Markdown rendering reviewers read.

``digest`` is the SHA-256 of the canonical plan JSON (without ``digest``)
followed by the bytes of ``plan.secrets``; approvals name it, and ``load_plan``
refuses a plan whose files no longer hash to it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sanitize import git
from sanitize.artifacts.plan_actions import DeletePath, FixInCode, MessageRewrite, NameRename, Replacement
from sanitize.artifacts.plan_review import ByHand, Dropped, FailClosed, HeldBack
from sanitize.artifacts.plan_summary import PlanSummary
from sanitize.errors import UsageError
from sanitize.git.log import Change, changes  # the raw log; blast_radius and rewrite import them from here
from sanitize.inputs import read_text
from sanitize.names import plan_entries
from sanitize.scan import context
from sanitize.scan.decode import BLOB_LAYERS
from sanitize.scan.names import NAME_KINDS, recover_names
from sanitize.scan.report import Finding, ScanReport
from sanitize.scan.rules import is_word_salad
from sanitize.secret import Secret
from sanitize.workdir import write_atomic, write_private

PLAN_SCHEMA = "git-sanitize/plan/v1"
MARKER = "***REMOVED***"
SHORT_VALUE = 8  # a shorter literal may also occur in innocent text: the plan warns the reviewer
_SAFE_BYTE = re.compile(rb"[A-Za-z0-9_]")

Recover = Callable[[str, Iterable[Finding]], Mapping[str, Secret]]
_Action = TypeVar("_Action", DeletePath, Replacement, MessageRewrite, FixInCode, NameRename, HeldBack, Dropped)


# plan.secrets lines ---------------------------------------------------------------------
def secret_line(value: str) -> bytes:
    """One ``--replace-text`` line for ``value``.

    ``literal:`` when the value fits on one line (filter-repo splits on the
    *last* ``==>``, which is ours, so a value may itself contain ``==>``);
    otherwise ``regex:`` with every non-word byte hex-escaped, so newlines and
    regex metacharacters match literally.
    """
    raw = value.encode("utf-8", "surrogateescape")
    marker = MARKER.encode()
    if b"\n" not in raw and b"\r" not in raw:
        return b"literal:" + raw + b"==>" + marker + b"\n"
    escaped = b"".join(bytes([c]) if _SAFE_BYTE.fullmatch(bytes([c])) else b"\\x%02x" % c for c in raw)
    return b"regex:" + escaped + b"==>" + marker + b"\n"


def parse_secret_line(line: bytes) -> Secret:
    """The value of one line written by :func:`secret_line`; UsageError otherwise."""
    body, sep, _ = line.rstrip(b"\r\n").rpartition(b"==>")
    if not sep:
        raise UsageError("plan.secrets: a line has no replacement marker")
    if body.startswith(b"literal:"):
        raw = body[len(b"literal:"):]
    elif body.startswith(b"regex:"):
        try:
            raw = re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]), body[len(b"regex:"):])
        except ValueError as exc:  # pragma: no cover - the pattern only yields valid hex
            raise UsageError("plan.secrets: malformed regex line") from exc
    else:
        raise UsageError("plan.secrets: a line is neither literal: nor regex:")
    return Secret(raw.decode("utf-8", "surrogateescape"))


# The plan document ------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """A loaded (or freshly made) plan; ``path`` is where plan.json lives."""

    path: Path
    source: str
    tips: dict[str, str]
    delete_paths: tuple[DeletePath, ...]
    replace: tuple[Replacement, ...]
    messages: tuple[MessageRewrite, ...]
    fix_in_code: tuple[FixInCode, ...]
    summary: PlanSummary
    digest: str
    names: tuple[NameRename, ...] = ()          # values in ref/path/identity names: renamed
    rules_file: str | None = None               # the rules file the scan used (rewrite and verify rescan with it)
    held_back: tuple[HeldBack, ...] = ()        # low-confidence values left for review (plan --include plans one)
    dropped: tuple[Dropped, ...] = ()           # findings the reviewer rejected as false positives (plan --drop)
    fail_closed: FailClosed | None = None       # the fallback defaults the rewrite makes fail closed

    @property
    def secrets_path(self) -> Path:
        return secrets_path_for(self.path)

    @property
    def markdown_path(self) -> Path:
        return self.path.with_suffix(".md")

    @property
    def planned_sha256s(self) -> set[str]:
        """Every secret value the plan removes: replaced in content and messages, or deleted with the
        blob that holds it only compressed or transcoded."""
        return {r.secret_sha256 for r in self.replace} | {
            s for m in self.messages for s in m.secret_sha256s} | {
            s for d in self.delete_paths for s in d.secret_sha256s or ()} | {n.secret_sha256 for n in self.names}

    @property
    def literal_sha256s(self) -> set[str]:
        """The SHA-256 of every literal plan.secrets must hold: each value as it sits in the blobs
        (itself, or its JSON-escaped, URL-encoded or base64 form, listed as ``literal_sha256s``)."""
        out: set[str] = set()
        for r in self.replace:
            out.update(r.literals)
        for m in self.messages:
            out.update(m.literals)
        out.update(n.secret_sha256 for n in self.names)
        return out

    @property
    def paths(self) -> list[str]:
        return [d.path for d in self.delete_paths]

    def body(self) -> dict[str, Any]:
        """The plan document without ``digest`` (what the digest covers)."""
        return {
            "schema": PLAN_SCHEMA,
            "source": self.source,
            "tips": dict(self.tips),
            "actions": {"delete_paths": [d.dump() for d in self.delete_paths],
                        "replace": [r.dump() for r in self.replace],
                        "messages": [m.dump() for m in self.messages],
                        **({"names": [n.dump() for n in self.names]} if self.names else {})},
            "fix_in_code": [f.dump() for f in self.fix_in_code],
            "summary": self.summary.dump(),
            **({"rules": self.rules_file} if self.rules_file is not None else {}),
            "held_back": [h.dump() for h in self.held_back],
            "dropped": [d.dump() for d in self.dropped],
            **({"fail_closed": self.fail_closed.dump()} if self.fail_closed is not None else {}),
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.body(), "digest": self.digest}

    @property
    def by_hand(self) -> tuple[ByHand, ...]:
        """The tip fallbacks no rule can make fail closed (the push waits until each is acknowledged)."""
        return self.fail_closed.by_hand if self.fail_closed is not None else ()

    def secret_values(self) -> list[Secret]:
        """The values in plan.secrets (already verified against the plan by load_plan)."""
        return [parse_secret_line(line) for line in self.secrets_path.read_bytes().splitlines() if line.strip()]


def secrets_path_for(plan_path: Path) -> Path:
    """``plan.json`` → ``plan.secrets`` beside it."""
    return plan_path.with_suffix(".secrets")


def canonical(body: dict[str, Any]) -> bytes:
    """The byte form the digest covers: sorted keys, no whitespace, UTF-8."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def compute_digest(body: dict[str, Any], secrets: bytes) -> str:
    """sha256(canonical plan JSON without digest + plan.secrets bytes)."""
    return hashlib.sha256(canonical(body) + secrets).hexdigest()


def load_plan(path: str | os.PathLike[str]) -> Plan:
    """Read and verify a plan; UsageError if missing, malformed, tampered, or its secrets are gone."""
    p = Path(path)
    data = _document(p)
    sp = secrets_path_for(p)
    if not sp.is_file():
        raise UsageError(f"{sp}: missing; the plan cannot be applied without its secrets file (re-run plan)")
    if stat.S_IMODE(sp.stat().st_mode) & 0o077:
        raise UsageError(f"{sp}: readable by other users; chmod 600 it")
    secrets = sp.read_bytes()
    digest = data.pop("digest", None)
    if not isinstance(digest, str):
        raise UsageError(f"{p}: malformed plan: 'digest' must be a string")
    # The digest covers the document as written: what reviewers read is what approvals bind.
    matches = compute_digest(data, secrets) == digest
    plan = parse_plan(data, p, digest)
    if not matches:
        raise UsageError(f"{p}: digest does not match the plan and plan.secrets: edited after review or "
                         f"tampered with; re-run plan and have it reviewed again")
    got = {s.sha256 for s in plan.secret_values()}
    if got != plan.literal_sha256s:
        raise UsageError(f"{sp}: does not hold exactly the values the plan replaces")
    return plan


_KNOWN = {"schema", "source", "tips", "actions", "fix_in_code", "summary", "rules", "held_back", "dropped",
          "fail_closed"}


def parse_plan(data: dict[str, Any], p: Path, digest: str) -> Plan:
    """The plan document (plan.json without ``digest``), every field validated; UsageError naming the first bad one.

    Only the structure: :func:`load_plan` also checks the digest and plan.secrets.
    """
    unknown = sorted(set(data) - _KNOWN)
    if unknown:
        raise UsageError(f"{p}: malformed plan: unknown field {unknown[0][:40]!r}")
    try:
        actions, tips, source = data["actions"], data["tips"], data["source"]
        if not isinstance(actions, dict) or not isinstance(tips, dict) or not isinstance(source, str):
            raise TypeError("'actions' and 'tips' must be objects, 'source' a string")
        rules = data.get("rules")
        if rules is not None and not isinstance(rules, str):
            raise TypeError("'rules' must be a string")
        return Plan(
            path=p, source=source, tips={str(k): str(v) for k, v in tips.items()},
            delete_paths=_each(DeletePath.parse, actions["delete_paths"], f"{p}: actions.delete_paths"),
            replace=_each(Replacement.parse, actions["replace"], f"{p}: actions.replace"),
            messages=_each(MessageRewrite.parse, actions["messages"], f"{p}: actions.messages"),
            fix_in_code=_each(FixInCode.parse, data["fix_in_code"], f"{p}: fix_in_code"),
            summary=PlanSummary.parse(data["summary"], f"{p}: summary"), digest=digest,
            names=_each(NameRename.parse, actions.get("names", []), f"{p}: actions.names"),
            rules_file=rules,
            held_back=_each(HeldBack.parse, data.get("held_back", []), f"{p}: held_back"),
            dropped=_each(Dropped.parse, data.get("dropped", []), f"{p}: dropped"),
            fail_closed=FailClosed.parse(data["fail_closed"], f"{p}: fail_closed") if "fail_closed" in data else None,
        )
    except (KeyError, TypeError) as exc:
        raise UsageError(f"{p}: malformed plan: missing or wrong field {exc}") from exc


def read_plan(path: str | os.PathLike[str]) -> Plan:
    """plan.json's structure without plan.secrets (the digest unverified): for a stage that only reads
    what the plan decided (the by-hand fallbacks at the push). UsageError if unreadable or malformed."""
    p = Path(path)
    data = _document(p)
    digest = data.pop("digest", None)
    return parse_plan(data, p, digest if isinstance(digest, str) else "")


def _document(p: Path) -> dict[str, Any]:
    """plan.json as JSON, with the plan schema; UsageError (one line) for anything else."""
    try:
        data = json.loads(read_text(p, "plan file"))
    except json.JSONDecodeError as exc:
        raise UsageError(f"{p}: not a readable plan JSON file ({exc.__class__.__name__})") from exc
    if not isinstance(data, dict) or data.get("schema") != PLAN_SCHEMA:
        raise UsageError(f"{p}: not a git-sanitize plan (schema {PLAN_SCHEMA} expected)")
    return data


def _each(parse: Callable[[object, str], _Action], items: object, where: str) -> tuple[_Action, ...]:
    """Every action of one list, each validated; UsageError naming the first bad one."""
    if not isinstance(items, list):
        raise UsageError(f"{where}: must be a list")
    return tuple(parse(item, f"{where}[{n}]") for n, item in enumerate(items))


# History helpers (shared with rewrite) ----------------------------------------------------
def peel_commits(repo: str | os.PathLike[str], shas: Iterable[str]) -> dict[str, str]:
    """object id → the commit it peels to (objects that are not commits or tags of commits are left out)."""
    shas = list(dict.fromkeys(shas))
    if not shas:
        return {}
    infos = git.objects.check(repo, [f"{s}^{{commit}}" for s in shas])
    return {sha: info.oid for sha, info in zip(shas, infos, strict=True) if info is not None and info.type == "commit"}


@dataclass
class History:
    """The commit graph of some tips: topological order (oldest first) and parents."""

    order: list[str]
    parents: dict[str, tuple[str, ...]]

    @classmethod
    def load(cls, repo: str | os.PathLike[str], tips: Iterable[str], *, cache: Path | None = None) -> History:
        """The git layer's commit graph of ``tips`` (kept in ``cache``, a workdir, for the other stages)."""
        graph = git.graph.load(repo, tips, cache=cache)
        return cls(graph.order, graph.parents)

    def descendants_closure(self, seeds: set[str]) -> set[str]:
        """Seeds plus every commit with a parent in the set: what a rewrite of the seeds changes."""
        changed: set[str] = set()
        for c in self.order:
            if c in seeds or any(p in changed for p in self.parents[c]):
                changed.add(c)
        return changed

    def changes_per_tip(self, tips: dict[str, str], changed: set[str]) -> dict[str, tuple[int, str | None]]:
        """For each ref → tip commit: how many ``changed`` commits it reaches, and the earliest of them.

        ``changed`` is closed under descendants (a rewrite changes every descendant), so only
        changed commits need walking. One pass carries a bitmask of refs from the tips down to
        their changed ancestors; bit-sliced counters then count per ref. Linear in the changed
        history, however many refs reach it (a per-ref walk took minutes on 4k refs × 200k commits).
        """
        bits: dict[str, int] = {}
        for n, tip in enumerate(tips.values()):
            if tip in changed:
                bits[tip] = bits.get(tip, 0) | (1 << n)
        for c in reversed(self.order):  # newest first: children before parents
            mask = bits.get(c)
            if mask:
                for p in self.parents[c]:
                    if p in changed:
                        bits[p] = bits.get(p, 0) | mask
        slices: list[int] = []  # slices[i] holds bit i of every ref's count
        firsts: dict[int, str] = {}
        unassigned = (1 << len(tips)) - 1
        for c in self.order:  # oldest first: the first changed commit a ref reaches is found first
            mask = bits.get(c)
            if not mask:
                continue
            carry, i = mask, 0
            while carry:
                if i == len(slices):
                    slices.append(0)
                slices[i], carry = slices[i] ^ carry, slices[i] & carry
                i += 1
            newly = mask & unassigned
            while newly:
                low = newly & -newly
                firsts[low.bit_length() - 1] = c
                newly ^= low
            unassigned &= ~mask
        return {ref: (sum(((sl >> n) & 1) << i for i, sl in enumerate(slices)), firsts.get(n))
                for n, ref in enumerate(tips)}


# Making the plan --------------------------------------------------------------------------
def _engine_recover(rules_file: str | None) -> Recover:
    def recover(repo: str, findings: Iterable[Finding]) -> Mapping[str, Secret]:
        from sanitize.scan.engine import recover_values

        return recover_values(repo, findings, rules_file=rules_file)

    return recover


def _local_repo(source: str, tmp: Path, given: git.Location | None = None) -> str:
    """A readable copy of the scanned repository: the path itself, or a mirror clone of a URL (its
    credentials from ``given``, the same address in memory, or as :meth:`Location.restore` finds them)."""
    if Path(source).exists():
        git.git_dir(source)
        return source
    dest = tmp / "source.git"
    git.run(["clone", "--quiet", "--mirror", git.Location.restore(source, given), str(dest)])
    return str(dest)


def lineage_paths(repo: str | os.PathLike[str], all_changes: list[Change], blobs: set[str]) -> dict[str, str]:
    """Every path where one of ``blobs`` appeared, plus where those files were later renamed/moved.

    ``all_changes`` come without rename detection (cheap on any history); renames are
    then looked for only in the commits that delete one of the paths found so far,
    since a rename shows there as a deletion. Returns path → how it was found.
    """
    found: dict[str, str] = {}
    for ch in all_changes:
        if ch.blob in blobs and ch.mode != "160000":
            found.setdefault(ch.path, "held the flagged file")
    examined: set[str] = set()
    while True:
        deleting = {ch.commit for ch in all_changes if "D" in ch.status and ch.path in found} - examined
        if not deleting:
            return found
        examined |= deleting
        for ch in changes(repo, deleting, renames=True, walk=False):
            if ch.old_path is not None and ch.old_path in found and ch.path not in found:
                found[ch.path] = f"renamed from {ch.old_path}"


def _where(f: Finding, value: Secret | None) -> tuple[str, str]:
    """(context, confidence) of a finding: as the scan recorded them, else derived the same way
    (findings files written before the scan recorded them)."""
    ctx = f.context or context.classify(f.path if f.kind != "message" else None)
    conf = f.confidence or context.confidence(
        f.rule, ctx, generated_value=value is not None and context.looks_generated(value.reveal()))
    return ctx, conf


def _held_values(findings: list[Finding], values: Mapping[str, Secret], include: set[str]) -> dict[str, list[Finding]]:
    """secret_sha256 → findings, for the values the default leaves out: every finding of the value is a
    low-confidence generic assignment in a test, doc, example or vendored file, and none is in ``include``.

    A value is replaced everywhere or nowhere, so one finding in source (or one ``--include``) plans it.
    """
    groups: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        if f.kind in ("content", "message"):
            groups[f.secret_sha256].append(f)
    held: dict[str, list[Finding]] = {}
    for sha, fs in groups.items():
        if any(f.id in include for f in fs):
            continue
        if all(context.held_for_review(*_where(f, values.get(f.id))) for f in fs) or _guessable(fs, values):
            held[sha] = fs
    return held


def _guessable(fs: list[Finding], values: Mapping[str, Secret]) -> bool:
    """Every finding is a generic assignment and the value is stand-in words and digits (``testkey``)."""
    value = next((values[f.id] for f in fs if f.id in values), None)
    return value is not None and all(context.is_generic(f.rule) for f in fs) and is_word_salad(value.reveal())


def make_plan(findings_path: str, out: str = "plan.json", *, keep_paths: Iterable[str] = (),
              drop_findings: Iterable[str] = (), include_findings: Iterable[str] = (),
              rules_file: str | None = None, recover: Recover | None = None,
              location: git.Location | None = None, graph_cache: Path | None = None) -> Plan:
    """Write plan.json, plan.secrets (0600) and plan.md for a findings file; return the plan.

    By default every finding is planned except low-confidence generic assignments in tests,
    docs, examples and vendored code (``SECRET_KEY = 'dev'`` in a tutorial): those are listed
    under ``held_back`` in plan.json and plan.md, each with the ``--include`` that plans it.

    ``keep_paths``: paths not to delete (their content findings still get replaced).
    ``drop_findings``: finding ids the reviewer rejects as false positives.
    ``include_findings``: held-back finding ids the reviewer wants purged after all (the whole value).
    ``rules_file``: the rules the scan used (values are re-detected with them, and the plan records
    them so rewrite rescans with the same rules).
    ``recover``: finding id → value; defaults to the scan engine's ``recover_values``.
    ``graph_cache``: a workdir where the commit graph and the raw log are kept for (or were kept by) the
    other stages.
    ``location``: the scanned URL with its credentials, when this process has them (the findings hold
    only its redacted form).
    """
    if rules_file is not None and not Path(rules_file).is_file():
        raise UsageError(f"{rules_file}: no such rules file")
    report = ScanReport.load(findings_path)
    keep = set(keep_paths)
    drop = set(drop_findings)
    include = set(include_findings)
    ids = {f.id for f in report.findings}
    for option, given in (("--drop", drop), ("--include", include)):
        unknown = sorted(given - ids)
        if unknown:
            raise UsageError(f"{option} {unknown[0]}: no such finding id in {findings_path}")
    both = sorted(drop & include)
    if both:
        raise UsageError(f"finding {both[0]} is given to both --drop and --include; choose one")
    named_drop = sorted(f.id for f in report.findings if f.id in drop and f.kind in NAME_KINDS)
    if named_drop:
        raise UsageError(f"--drop {named_drop[0]}: a value in a ref, path or identity name cannot be kept (every "
                         f"clone lists the name); the plan renames it")
    dropped = [f for f in report.findings if f.id in drop]
    findings = [f for f in report.findings if f.id not in drop]
    path_findings = [f for f in findings if f.kind == "path"]
    with tempfile.TemporaryDirectory(prefix="git-sanitize-plan-") as tmpd:
        repo = _local_repo(report.source, Path(tmpd), location)
        peeled = peel_commits(repo, report.refs.values())
        missing = sorted(r for r, s in report.refs.items() if s not in peeled and not _exists(repo, s))
        if missing:
            raise UsageError(f"{report.source}: ref {missing[0]} tip from the scan is not in the repository; "
                             f"scan again")
        tip_commits = sorted(set(peeled.values()))
        # Names holding a value (scan/names.py): findings show them redacted, git knows the real ones.
        name_findings = [f for f in findings if f.kind in NAME_KINDS]
        # The scan's copy of the raw log; none is kept when a path holds a value (the log names every path).
        all_changes = list(git.log.history_changes(repo, tip_commits, cache=graph_cache,
                                                   keep=not any(f.kind == "path-name" for f in name_findings)))
        history = History.load(repo, tip_commits, cache=graph_cache)
        named = recover_names(repo, rules_file=rules_file) if name_findings else None
        names_shown: Callable[[str], str] = named.redactor.show if named else str
        real: Callable[[str], str] = named.redactor.reveal if named else str

        # Path deletions follow the blob to every path it lived at, and on through renames.
        delete: dict[str, set[str]] = defaultdict(set)
        how: dict[str, str] = {}
        for f in path_findings:
            if not f.path:
                continue
            found = lineage_paths(repo, all_changes, {f.blob} if f.blob else set())
            found.setdefault(real(f.path), "held the flagged file")
            for p, why in found.items():
                delete[p].add(f.id)
                how.setdefault(p, why)
        # A value visible only after decompressing or transcoding its blob has no literal in the blob that
        # --replace-text could replace: that blob goes, at every path it lived at.
        whole = [f for f in findings if f.kind == "content" and f.blob and f.encoding
                 and f.encoding[0] in BLOB_LAYERS]
        decoded: dict[str, set[str]] = defaultdict(set)
        for f in whole:
            found = lineage_paths(repo, all_changes, {f.blob} if f.blob else set())
            if f.path:
                found.setdefault(real(f.path), "held the flagged file")
            layers = "+".join(f.encoding)
            for p in found:
                delete[p].add(f.id)
                decoded[p].add(f.secret_sha256)
                how.setdefault(p, f"holds a secret visible only after {layers} decoding (no literal to replace)")
        keep = {real(p) for p in keep}  # plan.md shows a path holding a value redacted: either form is accepted
        bad_keep = sorted(names_shown(p) for p in keep - set(delete))
        stuck = sorted(names_shown(p) for p in keep if p in decoded)
        if stuck:
            raise UsageError(f"--keep-path {stuck[0]}: it holds a secret visible only after decoding, which cannot "
                             f"be replaced in place; --drop its finding(s) instead if they are false positives")
        for p in keep:
            delete.pop(p, None)
        if bad_keep:
            raise UsageError(f"--keep-path {bad_keep[0]}: no path finding at that path in {findings_path}")

        whole_ids = {f.id for f in whole}
        value_findings = [f for f in findings if f.kind in ("content", "message") and f.id not in whole_ids]
        values = (recover or _engine_recover(rules_file))(repo, value_findings) if value_findings else {}
        held = _held_values(value_findings, values, include)
        # --include names a finding the default would hold back; anything else is a mistake worth a line.
        not_held = sorted(f.id for f in findings
                          if f.id in include and not context.held_for_review(*_where(f, values.get(f.id))))
        if not_held:
            raise UsageError(f"--include {not_held[0]}: that finding is not held back; the plan already "
                             f"purges it by default")
        value_findings = [f for f in value_findings if f.secret_sha256 not in held]
        findings = [f for f in findings if f.kind == "path" or f.secret_sha256 not in held]
        by_sha: dict[str, Secret] = {}
        forms: dict[str, dict[str, Secret]] = defaultdict(dict)  # value sha → literal sha → literal
        for f in value_findings:
            v = values.get(f.id)
            if not isinstance(v, Secret) or v.sha256 != f.secret_sha256:
                raise UsageError(f"finding {f.id} ({f.rule}): its value could not be recovered from the "
                                 f"repository; re-run scan, or --drop {f.id} if it is a false positive")
            by_sha[f.secret_sha256] = v
            # What sits in the blob: the value itself, or its escaped/encoded form (Recovered.literals).
            literal_forms: tuple[Secret, ...] = getattr(v, "literals", None) or (v,)
            for lit in literal_forms:
                forms[f.secret_sha256][lit.sha256] = Secret(lit.reveal())

        # A value in a ref name, path or identity: renamed wherever it is, and replaced in files and messages.
        names_action: list[NameRename] = []
        if named is not None:
            for f in name_findings:
                v = named.values.get(f.id)
                if v is None or v.sha256 != f.secret_sha256:
                    raise UsageError(f"finding {f.id} ({f.rule}): the name holding its value is no longer in the "
                                     f"repository; re-run scan")
                by_sha[f.secret_sha256] = v
                forms[f.secret_sha256][v.sha256] = Secret(v.reveal())
            names_action = plan_entries(name_findings, named.holders)
        name_values = [by_sha[n.secret_sha256].reveal().encode("utf-8", "surrogateescape") for n in names_action]

        replace_groups: dict[str, list[Finding]] = defaultdict(list)
        message_groups: dict[str, list[Finding]] = defaultdict(list)
        for f in value_findings:
            if f.kind == "content":
                replace_groups[f.secret_sha256].append(f)
            else:
                message_groups[f.commit or "?"].append(f)
        replace = tuple(Replacement(
            secret_sha256=sha, preview=fs[0].preview, rule=sorted({f.rule for f in fs})[0],
            rules=tuple(sorted({f.rule for f in fs})), finding_ids=tuple(sorted({f.id for f in fs})),
            paths=tuple(sorted({f.path for f in fs if f.path})), blobs=len({f.blob for f in fs if f.blob}),
            short=min(len(x) for x in forms[sha].values()) < SHORT_VALUE,
            **_encoded(sha, fs, forms),
        ) for sha, fs in sorted(replace_groups.items()))
        messages = tuple(MessageRewrite(
            object=obj, finding_ids=tuple(sorted({f.id for f in fs})),
            secret_sha256s=tuple(sorted({f.secret_sha256 for f in fs})), rules=tuple(sorted({f.rule for f in fs})),
            literal_sha256s=lits if (lits := tuple(sorted({x for f in fs for x in forms[f.secret_sha256]})))
            != tuple(sorted({f.secret_sha256 for f in fs})) else None,
        ) for obj, fs in sorted(message_groups.items()))
        # A deleted path whose name holds a value is shown redacted (rewrite reads the real one back).
        delete_paths = tuple(DeletePath(path=names_shown(p), finding_ids=tuple(sorted(delete[p])), found=how[p],
                                        secret_sha256s=tuple(sorted(decoded[p])) if p in decoded else None)
                             for p in sorted(delete))

        fix = tuple(x for x in _fix_in_code(repo, report, findings, by_sha, real) if real(x.path) not in delete)
        from sanitize.purge.fail_closed import propose

        # The rewrite makes every planned fallback default fail closed (the variable becomes required):
        # which variables, the diff at each tip, and what no rule can edit (fixed by hand).
        fail_closed = propose(repo, report.refs, fix,
                              [lit for g in forms.values() for lit in g.values()], values.values(),
                              [(f.blob, f.line) for f in value_findings if f.kind == "content"
                               and f.rule.startswith("default.") and f.blob and f.line])

        # What will change, and why: the same computation the rewrite exports and checks against.
        from sanitize.purge.blast_radius import compute as blast_radius

        radius = blast_radius(repo, report.refs, list(delete),
                              [by_sha[sha].reveal().encode("utf-8", "surrogateescape") for sha in sorted(by_sha)],
                              all_changes=all_changes, history=history, names=name_values)
        held_back = tuple(_held_entry(fs, values) for _sha, fs in sorted(held.items()))
        dropped_entries = tuple(Dropped(
            finding_id=f.id, rule=f.rule, kind=f.kind, path=f.path, preview=f.preview,
            secret_sha256=f.secret_sha256,  # so a rescan can tell a dropped value from a new one
            context=_where(f, values.get(f.id))[0], confidence=_where(f, values.get(f.id))[1],
            reason="rejected by the reviewer as a false positive (--drop)",
        ) for f in sorted(dropped, key=lambda f: f.id))
        summary = PlanSummary(
            findings=len(report.findings), findings_planned=len(findings),
            dropped_findings=tuple(sorted(drop)), kept_paths=tuple(sorted(names_shown(p) for p in keep)),
            held_back_values=len(held_back), held_back_findings=sum(len(fs) for fs in held.values()),
            included_findings=tuple(sorted(include)),
            delete_paths=len(delete_paths), replacements=len(replace), messages=len(messages),
            fix_in_code=len(fix), **radius.summary(),
            short_values=sum(1 for r in replace if r.short),
            encoded_values=sum(1 for r in replace if r.literal_sha256s),
            deleted_for_decoded=len(decoded),
            renamed_values=len(names_action) if names_action else None,
        )

    literals = {sha: lit for group in forms.values() for sha, lit in group.items()}
    secrets = b"".join(secret_line(literals[sha].reveal()) for sha in sorted(literals))
    out_path = Path(out)
    source = str(Path(report.source).resolve()) if Path(report.source).exists() else report.source
    plan = Plan(path=out_path, source=source, tips=dict(report.refs), delete_paths=delete_paths,
                replace=replace, messages=messages, fix_in_code=fix, summary=summary, digest="",
                rules_file=str(Path(rules_file).resolve()) if rules_file else None,
                held_back=held_back, dropped=dropped_entries, fail_closed=fail_closed, names=tuple(names_action))
    plan = dataclasses.replace(plan, digest=compute_digest(plan.body(), secrets))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_private(plan.secrets_path, secrets)
    write_atomic(out_path, json.dumps(plan.to_dict(), indent=2, ensure_ascii=False) + "\n")
    write_atomic(plan.markdown_path, render_markdown(plan))
    return plan


def _held_entry(fs: list[Finding], values: Mapping[str, Secret]) -> HeldBack:
    """One held-back value as plan.json records it (no value: preview and hash) and how to plan it."""
    wheres = [_where(f, values.get(f.id)) for f in fs]
    first = min(fs, key=lambda f: f.id)
    return HeldBack(
        secret_sha256=first.secret_sha256, preview=first.preview, rules=tuple(sorted({f.rule for f in fs})),
        contexts=tuple(sorted({c for c, _ in wheres})), confidence=tuple(sorted({c for _, c in wheres})),
        finding_ids=tuple(sorted({f.id for f in fs})), paths=tuple(sorted({f.path for f in fs if f.path})),
        include=f"--include {first.id}",
        reason=("a guessable stand-in (only words like test/dev/secret and digits): a weak default to fix "
                   "in code, not a secret worth rewriting every file of history for") if _guessable(fs, values)
        else "low-confidence generic assignment found only in " + "/".join(sorted({c for c, _ in wheres})),
    )


def _encoded(sha: str, fs: list[Finding], forms: dict[str, dict[str, Secret]]) -> dict[str, tuple[str, ...]]:
    """``literal_sha256s`` and ``encoding`` of a replacement whose value sits in the blobs in another form."""
    if set(forms[sha]) == {sha}:
        return {}
    encodings = sorted({"+".join(f.encoding) for f in fs if f.encoding})
    return {"literal_sha256s": tuple(sorted(forms[sha])), "encoding": tuple(encodings)}


def _exists(repo: str, sha: str) -> bool:
    return git.run(["cat-file", "-e", sha], cwd=repo, check=False).returncode == 0


def _fix_in_code(repo: str, report: ScanReport, findings: list[Finding],
                 values: dict[str, Secret], real: Callable[[str], str] = str) -> list[FixInCode]:
    """Hardcoded fallback defaults still at a branch tip: after replacement they fall back to the marker.

    ``real`` turns a name shown redacted (a path or branch holding a value) back into git's.
    """
    defaults = [f for f in findings if f.kind == "content" and f.rule.startswith("default.") and f.path]
    items: dict[tuple[str, str, str], FixInCode] = {}
    branches = {r: s for r, s in report.refs.items() if r.startswith("refs/heads/")}
    if not defaults or not branches:
        return []
    queries = [(ref, f) for ref in sorted(branches) for f in defaults]
    infos = git.objects.check(repo, [f"{branches[ref]}:{real(f.path or '')}" for ref, f in queries])
    for (ref, f), info in zip(queries, infos, strict=True):
        if info is None or info.type != "blob":
            continue
        blob = info.oid
        line_no = f.line if blob == f.blob else _line_of(repo, blob, values[f.secret_sha256])
        if line_no is None:
            continue
        key = (f.path or "", f.rule, ref)
        items.setdefault(key, FixInCode(path=f.path or "", line=line_no, rule=f.rule, ref=ref, finding_id=f.id))
    return [items[k] for k in sorted(items)]


def _line_of(repo: str, blob: str, value: Secret) -> int | None:
    data = git.run(["cat-file", "blob", blob], cwd=repo).stdout
    needle = value.reveal().encode("utf-8", "surrogateescape")
    at = data.find(needle)
    return None if at < 0 else data.count(b"\n", 0, at) + 1


def render_markdown(plan: Plan) -> str:
    """plan.md: what reviewers read (never a secret value; previews only)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("sanitize", "templates"), autoescape=False,  # noqa: S701 - Markdown, not HTML
                      undefined=StrictUndefined, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    return env.get_template("plan.md.j2").render(plan=plan, marker=MARKER)


def copy_plan(plan: Plan, dest_dir: Path) -> Path:
    """Copy plan.json (+ plan.secrets 0600, plan.md) into ``dest_dir``; return the new plan.json path."""
    target = dest_dir / "plan.json"
    if target.resolve() == plan.path.resolve():
        return target
    shutil.copyfile(plan.path, target)
    write_private(secrets_path_for(target), plan.secrets_path.read_bytes())
    if plan.markdown_path.is_file():
        shutil.copyfile(plan.markdown_path, target.with_suffix(".md"))
    return target


__all__ = ["MARKER", "PLAN_SCHEMA", "Change", "History", "Plan", "changes", "compute_digest", "copy_plan",
           "lineage_paths", "load_plan", "make_plan", "parse_plan", "peel_commits", "read_plan", "secret_line"]
