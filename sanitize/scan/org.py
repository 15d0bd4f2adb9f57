"""An organisation in one purge: scan many repositories, then correlate their findings by value.

``scan --repos LIST --out-dir DIR`` scans each repository of the list (or of one
shard of it, ``--shard K/N``) on ``--jobs`` processes, one repository per
process, and writes into DIR:

- ``repos/<NNNNN-name>.json``: each repository's normal findings file (0600),
  ready for ``git-sanitize plan``;
- ``shard-K-of-N.json``: what this run covered, repository by repository
  (scanned, or the one-line reason it could not be; never a credential);
- ``cache/``: one scan cache per repository, so the next run reads only new objects.

``org merge DIR…`` (and an unsharded ``scan --repos``, on its own DIR) reads
every shard file, checks that together they cover the whole list exactly once,
and writes ``org.json`` and ``org.md``: each distinct leaked value
(``secret_sha256``) with every repository that holds it. The same value in five
repositories is one credential to rotate and five histories to purge.

Exit codes (the CLI contract): 0 every repository scanned and clean, 1 findings,
2 a repository could not be scanned or a shard is missing (the report says
which; a partial scan never reads as clean).
"""

from __future__ import annotations

import json
import multiprocessing
import re
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sanitize.errors import SanitizeError, UsageError
from sanitize.faults import fault_point
from sanitize.scan.repolist import RepoEntry, RepoList
from sanitize.scan.report import ScanReport

SHARD_SCHEMA = "git-sanitize/org-shard/v1"
ORG_SCHEMA = "git-sanitize/org-report/v1"
REPOS = "repos"
CACHE = "cache"
_SHARD_FILE = re.compile(r"^shard-(\d{1,6})-of-(\d{1,6})\.json$")
_REPO_FILE = re.compile(r"^repos/\d{5}-[A-Za-z0-9._-]{1,60}\.json$")
PATHS_SHOWN = 5  # paths listed per repository and value; the counts are complete


@dataclass(frozen=True)
class Outcome:
    """One repository's scan: its findings file, or why it could not be scanned."""

    index: int
    source: str  # shown (redacted)
    status: str  # "ok" | "error"
    file: str | None = None  # relative to the output directory
    findings: int = 0
    values: int = 0
    error: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The shard file's record."""
        return {"index": self.index, "source": self.source, "status": self.status, "file": self.file,
                "findings": self.findings, "values": self.values, "error": self.error or None,
                "seconds": self.seconds}

    @classmethod
    def from_dict(cls, d: Any) -> Outcome:
        """Parse a shard file's record; ValueError when malformed (a shard file on a shared volume is input)."""
        if not isinstance(d, dict) or d.get("status") not in ("ok", "error"):
            raise ValueError("a repository record needs a status of ok or error")
        index = d.get("index")
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ValueError("a repository record needs a non-negative index")
        file = d.get("file")
        if d["status"] == "ok" and not (isinstance(file, str) and _REPO_FILE.match(file)):
            raise ValueError(f"repository {index}: its findings file is not a repos/NNNNN-name.json name")
        return cls(index, str(d.get("source", ""))[:500], d["status"], file if d["status"] == "ok" else None,
                   int(d.get("findings") or 0), int(d.get("values") or 0), str(d.get("error") or "")[:500],
                   float(d.get("seconds") or 0.0))


@dataclass(frozen=True)
class ScanOptions:
    """What every repository of an organisation scan is scanned with."""

    rules_file: str | None = None
    baseline: str | None = None
    config_file: str | None = None
    cache: bool = True


def _scan_one(entry: RepoEntry, out_dir: Path, opts: ScanOptions) -> Outcome:
    """Scan one repository into ``out_dir/repos``; every failure becomes a one-line outcome, not an exception."""
    from sanitize.config import discover
    from sanitize.scan.cache import ScanCache
    from sanitize.scan.engine import scan_repository
    from sanitize.workdir import write_private

    started = time.monotonic()
    fault_point("scan:repository")
    try:
        with discover(entry.location, opts.config_file) as found:
            cfg = found.override(rules=opts.rules_file, baseline=opts.baseline)
            cache = ScanCache.open(out_dir / CACHE / f"{entry.key}.json", cfg.rules.value) if opts.cache else None
            report = scan_repository(entry.location, rules_file=cfg.rules.value, baseline=cfg.baseline.value,
                                     jobs=1, cache=cache)
        report = cfg.apply(report)
        rel = f"{REPOS}/{entry.name}.json"
        write_private(out_dir / rel, report.to_json().encode("utf-8"))
    except SanitizeError as exc:
        return Outcome(entry.index, entry.shown, "error", error=_safe(str(exc), entry),
                       seconds=round(time.monotonic() - started, 3))
    except OSError as exc:
        return Outcome(entry.index, entry.shown, "error", error=f"{exc.strerror or exc.__class__.__name__}",
                       seconds=round(time.monotonic() - started, 3))
    except Exception as exc:  # noqa: BLE001 - one repository's surprise must not stop the other hundreds
        # Only the class name: a library's message might quote the repository's content.
        return Outcome(entry.index, entry.shown, "error", error=f"internal error ({exc.__class__.__name__}); "
                       "scan this repository alone to see it", seconds=round(time.monotonic() - started, 3))
    return Outcome(entry.index, entry.shown, "ok", rel, len(report.findings),
                   len({f.secret_sha256 for f in report.findings}), seconds=round(time.monotonic() - started, 3))


def _safe(message: str, entry: RepoEntry) -> str:
    """An error line as it may be stored: the location's credentials never, and one line only."""
    if entry.location != entry.shown:
        message = message.replace(entry.location, entry.shown)
    return " ".join(message.split())[:500]


def scan_repos(repos: RepoList, out_dir: str | Path, *, shard: tuple[int, int] = (0, 1), jobs: int = 2,
               opts: ScanOptions = ScanOptions()) -> list[Outcome]:
    """Scan this shard's repositories on ``jobs`` processes, write their files and the shard file.

    UsageError (exit 2) when ``out_dir`` cannot be used; a repository that cannot be
    scanned is recorded as an error outcome and the others still run.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: --out-dir exists and is not a directory")
    if not out.resolve().parent.is_dir():
        raise UsageError(f"{out}: the directory {out.resolve().parent} does not exist")
    for sub in (out, out / REPOS, out / CACHE):
        sub.mkdir(mode=0o700, exist_ok=True)
    index, count = shard
    mine = repos.shard(index, count)
    # A run that dies half-way must leave no shard file behind: the merge then reports this shard
    # missing instead of taking an earlier run's file from a shared volume for this one's.
    (out / shard_file_name(index, count)).unlink(missing_ok=True)
    outcomes: list[Outcome] = []
    if jobs <= 1 or len(mine) <= 1:
        outcomes = [_scan_one(e, out, opts) for e in mine]
    else:
        from sanitize.scan.engine import compiled_detector

        compiled_detector(opts.rules_file)  # compiled once here; the forked workers inherit it
        with ProcessPoolExecutor(max_workers=min(jobs, len(mine)),
                                 mp_context=multiprocessing.get_context("fork")) as pool:
            try:
                futures = [pool.submit(_scan_one, e, out, opts) for e in mine]
                outcomes = [_outcome(f, e) for f, e in zip(futures, mine, strict=True)]
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    _write_shard(out, repos, index, count, outcomes)
    return outcomes


def _outcome(future: Future[Outcome], entry: RepoEntry) -> Outcome:
    """The worker's outcome; a worker that died (killed, out of memory) is this repository's error."""
    try:
        return future.result()
    except BrokenProcessPool:
        return Outcome(entry.index, entry.shown, "error",
                       error="the scanning process died (killed or out of memory); scan this repository alone")


def shard_file_name(index: int, count: int) -> str:
    """``shard-K-of-N.json``."""
    return f"shard-{index}-of-{count}.json"


def _write_shard(out: Path, repos: RepoList, index: int, count: int, outcomes: Sequence[Outcome]) -> None:
    from sanitize.workdir import write_atomic

    doc = {"schema": SHARD_SCHEMA, "list": repos.source, "list_digest": repos.digest,
           "list_size": len(repos.entries), "shard": index, "shards": count,
           "repos": [o.to_dict() for o in sorted(outcomes, key=lambda o: o.index)]}
    write_atomic(out / shard_file_name(index, count), json.dumps(doc, indent=1) + "\n")


# --- merging and correlating -----------------------------------------------------------------


@dataclass
class Credential:
    """One leaked value and every repository whose history holds it."""

    secret_sha256: str
    rules: set[str] = field(default_factory=set)
    kinds: set[str] = field(default_factory=set)
    preview: str = ""
    repos: dict[int, dict[str, Any]] = field(default_factory=dict)  # index → {source, file, findings, paths}

    def to_dict(self) -> dict[str, Any]:
        """The org report's record (hash and preview only, never the value)."""
        return {"secret_sha256": self.secret_sha256, "rules": sorted(self.rules), "kinds": sorted(self.kinds),
                "preview": self.preview, "repo_count": len(self.repos),
                "repos": [{"index": i, **r, "paths": sorted(r["paths"])[:PATHS_SHOWN]}
                          for i, r in sorted(self.repos.items())]}


@dataclass(frozen=True)
class OrgReport:
    """The merged shards: every repository's outcome and the findings correlated by value."""

    list_digest: str
    list_size: int
    shards: int
    missing_shards: tuple[int, ...]
    outcomes: tuple[Outcome, ...]
    credentials: tuple[Credential, ...]

    @property
    def complete(self) -> bool:
        """Every shard present and every repository scanned."""
        return not self.missing_shards and len(self.outcomes) == self.list_size and not self.failed

    @property
    def failed(self) -> tuple[Outcome, ...]:
        """Repositories that could not be scanned."""
        return tuple(o for o in self.outcomes if o.status != "ok")

    @property
    def findings(self) -> int:
        """Findings over every scanned repository."""
        return sum(o.findings for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        """2 incomplete (a shard missing, a repository not scanned), 1 findings, 0 clean."""
        return 2 if not self.complete else 1 if self.findings else 0

    def to_dict(self) -> dict[str, Any]:
        """The ``org.json`` document."""
        shared = [c for c in self.credentials if len(c.repos) > 1]
        return {
            "schema": ORG_SCHEMA, "list_digest": self.list_digest, "list_size": self.list_size,
            "shards": self.shards, "missing_shards": list(self.missing_shards), "complete": self.complete,
            "summary": {"repos": self.list_size, "scanned": len(self.outcomes) - len(self.failed),
                        "failed": len(self.failed), "with_findings": sum(1 for o in self.outcomes if o.findings),
                        "findings": self.findings, "values": len(self.credentials), "shared_values": len(shared)},
            "repos": [o.to_dict() for o in self.outcomes],
            "credentials": [c.to_dict() for c in self.credentials],
        }

    def summary_lines(self, shown: int = 10) -> list[str]:
        """The short human summary (``org.md`` and the terminal): counts, shared values, failures."""
        d = self.to_dict()["summary"]
        lines = [f"{d['repos']} repositories: {d['scanned']} scanned, {d['failed']} could not be scanned"
                 + (f", shard(s) {', '.join(map(str, self.missing_shards))} of {self.shards} missing"
                    if self.missing_shards else ""),
                 f"{d['findings']} finding(s) in {d['with_findings']} repositories: {d['values']} distinct value(s) "
                 f"to rotate, {d['shared_values']} of them in more than one repository"]
        for c in [c for c in self.credentials if len(c.repos) > 1][:shown]:
            names = ", ".join(r["source"] for _, r in sorted(c.repos.items())[:3])
            more = f" and {len(c.repos) - 3} more" if len(c.repos) > 3 else ""
            lines.append(f"  {c.secret_sha256[:12]} {'/'.join(sorted(c.rules))} ({c.preview}…): rotate once, purge "
                         f"{len(c.repos)} histories: {names}{more}")
        for o in self.failed[:shown]:
            lines.append(f"  not scanned: {o.source}: {o.error}")
        if shown and len(self.failed) > shown:
            lines.append(f"  … and {len(self.failed) - shown} more not scanned (org.json lists them all)")
        return lines

    def to_markdown(self) -> str:
        """``org.md``: the summary, then every value found in more than one repository."""
        out = ["# git-sanitize: organisation scan", "", *[f"- {ln.strip()}" for ln in self.summary_lines(0)], ""]
        shared = [c for c in self.credentials if len(c.repos) > 1]
        if shared:
            out += ["## Values in more than one repository (rotate once, purge each history)", "",
                    "| value (sha256) | rules | preview | repositories |", "|---|---|---|---|"]
            for c in shared:
                repos = "<br>".join(_md(r["source"]) for _, r in sorted(c.repos.items()))
                out.append(f"| `{c.secret_sha256[:16]}` | {_md(', '.join(sorted(c.rules)))} | `{_md(c.preview)}…` "
                           f"| {repos} |")
            out.append("")
        if self.failed or self.missing_shards:
            out += ["## Not scanned (the organisation is not proven clean)", ""]
            out += [f"- shard {s} of {self.shards}: no shard file" for s in self.missing_shards]
            out += [f"- {_md(o.source)}: {_md(o.error)}" for o in self.failed]
            out.append("")
        return "\n".join(out)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'").replace("<", "&lt;").replace("\n", " ")


def _load_shards(dirs: Iterable[str | Path], only: str | None) -> list[tuple[Path, dict[str, Any]]]:
    found: list[tuple[Path, dict[str, Any]]] = []
    for d in dirs:
        root = Path(d)
        if not root.is_dir():
            raise UsageError(f"{root}: not a directory of scan output")
        for f in sorted(root.iterdir()):
            if not _SHARD_FILE.match(f.name) or (only is not None and f.name != only):
                continue
            try:
                doc = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise UsageError(f"{f}: not a readable shard file ({exc.__class__.__name__})") from exc
            if not isinstance(doc, dict) or doc.get("schema") != SHARD_SCHEMA:
                raise UsageError(f"{f}: not a git-sanitize shard file ({SHARD_SCHEMA})")
            found.append((root, doc))
    if not found:
        raise UsageError("no shard-K-of-N.json in " + ", ".join(str(d) for d in dirs) + "; run scan --repos first")
    return found


def merge(dirs: Sequence[str | Path], *, only: str | None = None) -> OrgReport:
    """Merge the shard files in ``dirs`` (or only those named ``only``) into one report.

    UsageError when they are not of one list, a shard appears twice, or a record is malformed.
    """
    shards = _load_shards(dirs, only)
    digests = {(d.get("list_digest"), d.get("list_size"), d.get("shards")) for _, d in shards}
    if len(digests) != 1:
        raise UsageError("the shard files come from different lists or shard counts; merge one run's shards")
    (digest, size, count), = digests
    if not (isinstance(size, int) and isinstance(count, int) and count >= 1):
        raise UsageError("a shard file has no list size or shard count")
    seen: dict[int, Path] = {}
    outcomes: dict[int, tuple[Path, Outcome]] = {}
    for root, doc in shards:
        k = doc.get("shard")
        if not isinstance(k, int) or not 0 <= k < count:
            raise UsageError(f"{root}: a shard file names shard {str(k)[:10]} of {count}")
        if k in seen:
            raise UsageError(f"shard {k} of {count} appears twice ({seen[k]} and {root}); merge one run's shards")
        seen[k] = root
        try:
            for rec in doc.get("repos") or []:
                o = Outcome.from_dict(rec)
                if o.index >= size or o.index % count != k or o.index in outcomes:
                    raise ValueError(f"repository {o.index} does not belong to shard {k} of {count}")
                outcomes[o.index] = (root, o)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{root}: malformed shard {k} of {count}: {exc}") from exc
    missing = tuple(k for k in range(count) if k not in seen)
    credentials: dict[str, Credential] = {}
    final: list[Outcome] = []
    for index in sorted(outcomes):
        root, o = outcomes[index]
        if o.status == "ok" and o.file is not None:
            try:
                report = ScanReport.load(root / o.file)
            except UsageError as exc:
                o = Outcome(o.index, o.source, "error", error=f"findings file unreadable: {exc}")
            else:
                _correlate(credentials, o, report)
        final.append(o)
    ordered = sorted(credentials.values(), key=lambda c: (-len(c.repos), c.secret_sha256))
    return OrgReport(str(digest), size, count, missing, tuple(final), tuple(ordered))


def _correlate(credentials: dict[str, Credential], o: Outcome, report: ScanReport) -> None:
    for f in report.findings:
        c = credentials.setdefault(f.secret_sha256, Credential(f.secret_sha256))
        c.rules.add(f.rule)
        c.kinds.add(f.kind)
        c.preview = c.preview or f.preview.rstrip("…")[:4]
        r = c.repos.setdefault(o.index, {"source": o.source, "file": o.file, "findings": 0, "paths": set()})
        r["findings"] += 1
        if f.path:
            r["paths"].add(f.path)


def write_report(report: OrgReport, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``org.json`` and ``org.md`` (0600: they carry previews) into ``out_dir``."""
    from sanitize.workdir import write_private

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a directory")
    if not out.resolve().parent.is_dir():
        raise UsageError(f"{out}: the directory {out.resolve().parent} does not exist")
    out.mkdir(mode=0o700, exist_ok=True)
    j, m = out / "org.json", out / "org.md"
    write_private(j, (json.dumps(report.to_dict(), indent=1) + "\n").encode("utf-8"))
    write_private(m, report.to_markdown().encode("utf-8"))
    return j, m
