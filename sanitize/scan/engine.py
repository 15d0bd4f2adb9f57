"""The scan stage: every unique blob and message reachable from every ref, read once.

Flow: list the refs, then stream the reachable objects (one ``rev-list --objects``
walk: commits, trees and blobs, never the reflog or unreachable objects) in chunks
to ``jobs`` forked workers, each of which reads its chunks through its own
long-lived ``git cat-file --batch`` into the
:class:`~sanitize.scan.detectors.Detector`; reading starts while git is still
listing. Workers return hashes and previews only, never values, and on the way
collect what the names scan and ref reachability need (tree entry names, author
and committer identities, each commit's parents), so nothing is read or walked
twice. Only the blobs with findings are located in history (first commit, paths,
refs) by :mod:`sanitize.scan.history`; the ``git log`` that does it starts as
soon as a worker reports a first finding and runs beside the reading. With a
scan cache (:mod:`sanitize.scan.cache`) only objects no earlier scan with the
same rules read are sent to the workers; the cached hits are located in the same
way, so the report does not change.

Measured with ``make bench`` against the read floor and the peers: see bench/README.md.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import multiprocessing.util
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from multiprocessing.pool import AsyncResult
from pathlib import Path
from typing import Any

from sanitize import git
from sanitize.errors import UsageError
from sanitize.scan import context, history
from sanitize.scan.baseline import Baseline, load_baseline
from sanitize.scan.cache import Entry, ScanCache
from sanitize.scan.decode import Recovered
from sanitize.scan.detectors import Detector, Hit, message_body
from sanitize.scan.names import NameSources, commit_people, scan_names, tag_people, tree_names
from sanitize.scan.report import Finding, ScanReport, ScanStats
from sanitize.scan.revrange import RevRange
from sanitize.scan.rules import ContentRule, PathRule, load_custom_rules

_CHUNK_OBJECTS = 4000  # objects per cat-file process: long enough to keep delta bases cached

# Set in the parent before forking, so workers inherit the compiled rules.
_DETECTOR: Detector | None = None
_PROGRESS: Any = None
_RECORD = False  # workers list what they read, for the scan cache
_COLLECT = False  # workers also collect tree entry names, identities and parents (see _ChunkResult)
_READER: git.objects.BatchReader | None = None  # this process's long-lived cat-file


_Names = set[bytes]  # (named here: inside _ChunkResult, ``bytes`` is a field)


@dataclass
class _ChunkResult:
    blob_hits: dict[str, list[Hit]] = field(default_factory=dict)  # blob oid -> hits
    message_hits: dict[str, tuple[str, list[Hit]]] = field(default_factory=dict)  # oid -> (type, hits)
    generated: dict[str, set[str]] = field(default_factory=dict)  # blob oid -> sha256s of machine-made values
    documented: dict[str, set[str]] = field(default_factory=dict)  # blob oid -> sha256s seen only in docstrings
    blobs: int = 0
    bytes: int = 0
    commits: int = 0
    read_seconds: float = 0.0    # waiting on cat-file, summed over workers
    detect_seconds: float = 0.0  # in the detector, summed over workers
    read: list[tuple[str, str, int]] = field(default_factory=list)  # (oid, type, size) read, when caching
    # What the names scan and ref reachability need, collected while reading (when trees are read too):
    names: _Names = field(default_factory=set)  # tree entry names
    people: dict[str, str] = field(default_factory=dict)  # author/committer name or email -> first commit
    taggers: dict[str, list[str]] = field(default_factory=dict)  # tag object -> tagger name and email
    parents: dict[str, tuple[str, ...]] = field(default_factory=dict)  # commit -> its parents


@contextmanager
def _repository(location: str | git.Location) -> Iterator[tuple[Path, str]]:
    """The local git dir to scan and the source as reported (redacted URL or absolute path)."""
    loc = git.Location.parse(location)
    if loc.is_url:
        tmp = Path(tempfile.mkdtemp(prefix="git-sanitize-scan-"))
        try:
            mirror = history.mirror_clone(loc, tmp / "mirror.git")
            if git.is_shallow(mirror):
                raise UsageError(f"{loc}: the source is a shallow repository, history incomplete")
            yield mirror, loc.shown
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    source = loc.shown
    path = Path(source)
    if not path.exists():
        raise UsageError(f"{source}: no such file or directory")
    gdir = git.git_dir(path)
    if git.is_shallow(gdir):
        raise UsageError(f"{source}: shallow clone, history incomplete; run `git fetch --unshallow` first")
    if git.is_partial(gdir):
        raise UsageError(f"{source}: partial clone (objects left on the server), history incomplete; "
                         "scan a full clone (`git clone --mirror`)")
    yield gdir, str(path.resolve())


def scan_repository(source: str | git.Location, *, rules_file: str | None = None, baseline: str | None = None,
                    jobs: int | None = None, progress: bool = False,
                    select: Callable[[Path], RevRange] | None = None,
                    graph_cache: Path | None = None, cache: ScanCache | None = None) -> ScanReport:
    """Scan every object reachable from every ref of ``source`` (path or URL).

    ``select`` narrows the scan to a commit range (``--range``, ``--since``,
    pre-push, the pre-receive guard): given the git dir, it returns the range;
    only the objects the range adds are read, and the report names its tips.
    ``graph_cache``: a purge's workdir, where the commit graph is kept for plan and rewrite.
    UsageError/GitError (exit 2) for a missing path, a non-repository, a shallow
    clone, an unreadable baseline or a bad rules file — all checked before reading.

    With a ``cache`` (:mod:`sanitize.scan.cache`) only objects it does not hold are read;
    the cached results are located in this history like fresh ones, and the cache is saved
    with what was read once the scan completes.
    """
    extra = load_custom_rules(rules_file) if rules_file else ()
    suppressor = load_baseline(baseline) if baseline else None
    jobs = max(1, jobs if jobs is not None else min(2, os.cpu_count() or 1))
    started = time.monotonic()
    with _repository(source) as (repo, shown), ExitStack() as stack:
        phases = {"open": time.monotonic() - started}
        detector = compiled_detector(rules_file, extra)
        phases["compile rules"] = time.monotonic() - started - sum(phases.values())
        # --- commit-range hook (sanitize/scan/revrange.py): every ref by default, else what the range adds
        revs: Sequence[str] = history.ALL_REFS
        if select is None:
            refs = history.list_refs(repo)
        else:
            chosen = select(repo)
            refs, revs = list(chosen.tips), chosen.revs
        if not revs:  # nothing selected (a push of deletions only)
            return ScanReport(source=shown, refs={}, stats=ScanStats(), findings=[])
        # --- end of the commit-range hook
        phases["refs"] = time.monotonic() - started - sum(phases.values())
        inv = history.Inventory()
        # Without a cache every reachable object is read, trees too: the workers then collect what the
        # names scan and ref reachability need on the way (no second read of every tree, no more walks).
        collect = cache is None
        chunks = history.iter_inventory(repo, refs, inv, _CHUNK_OBJECTS, revs, trees=collect)
        cached: list[tuple[str, Entry]] = []
        if cache is not None:
            chunks = cache.split(chunks, cached)
        # The log that locates findings starts as soon as a worker reports one, beside the reading.
        spool = history.locate_spool(repo, revs)
        stack.callback(spool.close)
        result = _read_all(repo, chunks, detector, jobs, progress, record=cache is not None, collect=collect,
                           on_hits=spool.start)
        if cache is not None:
            _remember(cache, result, dict(inv.blobs))
            _replay(result, cached)
        phases["read+detect"] = time.monotonic() - started - sum(phases.values())
        findings = _locate(repo, refs, inv, result, revs, graph_cache, phases, collected=collect, spool=spool)
        # A value in a ref name, path or identity: its own finding, and that name shown redacted everywhere.
        known = None
        if collect:
            entries = {n.decode("utf-8", "surrogateescape") for n in result.names}
            known = NameSources(entries, result.people, result.taggers)
        named = scan_names(repo, refs, detector, revs, known)
        if graph_cache is not None and any(f.kind == "path-name" for f in named.findings):
            # The kept raw log names every path: with a value in one, it would be a copy of that value.
            history.drop_log_copy(repo, refs, revs, graph_cache)
        findings, ref_tips = named.redact(findings, {r.name: r.target for r in refs})
        findings += named.findings
        phases["names"] = time.monotonic() - started - sum(phases.values())
    if suppressor is not None:
        findings = [f for f in findings if not _suppressed(suppressor, f, result)]
    phases.update({"read (worker s)": result.read_seconds, "detect (worker s)": result.detect_seconds})
    stats = ScanStats(commits=result.commits, blobs=result.blobs, bytes=result.bytes,
                      seconds=round(time.monotonic() - started, 3),
                      phases={name: round(seconds, 3) for name, seconds in phases.items()})
    if cache is not None:
        cache.save()
    return ScanReport(source=shown, refs=ref_tips, stats=stats, findings=findings)


_COMPILED: dict[tuple[str | None, str], Detector] = {}


def compiled_detector(rules_file: str | None, extra: Sequence[ContentRule | PathRule] | None = None) -> Detector:
    """The detector for these rules, compiled once per process while the rules file's bytes stay the same.

    hyperscan's compile takes 0.1-0.5 s: most of a small repository's scan, and an organisation
    scan (:mod:`sanitize.scan.org`) runs hundreds of them in a few forked processes.
    """
    if extra is None:
        extra = load_custom_rules(rules_file) if rules_file else ()
    key = (rules_file, hashlib.sha256(Path(rules_file).read_bytes()).hexdigest() if rules_file else "")
    if key not in _COMPILED:
        _COMPILED.clear()  # one rule set at a time: memory stays bounded
        _COMPILED[key] = Detector(extra)
    return _COMPILED[key]


def _suppressed(baseline: Baseline, finding: Finding, result: _ChunkResult) -> bool:
    # Workers keep only hashes; a detect-secrets baseline's SHA-1 is compared to the one they computed.
    if baseline.suppresses(finding):
        return True
    sha1 = _result_sha1(result, finding)
    return sha1 is not None and sha1 in baseline.hashed_secrets


def _result_sha1(result: _ChunkResult, finding: Finding) -> str | None:
    key = finding.blob or finding.commit or ""
    hits = result.blob_hits.get(key) or result.message_hits.get(key, ("", []))[1]
    for h in hits:
        if h.secret_sha256 == finding.secret_sha256 and h.rule == finding.rule:
            return h.secret_sha1
    return None


# --- reading --------------------------------------------------------------------------------


def _read_all(repo: Path, chunks: Iterator[list[tuple[str, str]]], detector: Detector, jobs: int,
              progress: bool, *, record: bool = False, collect: bool = False,
              on_hits: Callable[[], None] | None = None) -> _ChunkResult:
    """Scan every chunk as the enumeration yields it: sequentially, or on ``jobs`` forked workers.

    ``on_hits`` is called (from the pool's result thread) when a chunk with blob findings comes back.
    """
    global _DETECTOR, _PROGRESS, _RECORD, _COLLECT
    merged = _ChunkResult()
    _DETECTOR = detector
    _RECORD = record
    _COLLECT = collect
    show = progress and sys.stderr.isatty()
    try:
        if jobs == 1:
            try:
                with _progress(show) as update:
                    done = 0
                    for chunk in chunks:
                        part = _scan_chunk(str(repo), chunk)
                        if part.blob_hits and on_hits is not None:
                            on_hits()
                        _merge(merged, part)
                        done += len(chunk)
                        update(done, done)
            finally:
                _close_reader()
            return merged
        ctx = multiprocessing.get_context("fork")
        counter = ctx.Value("q", 0)
        _PROGRESS = counter
        pool = ctx.Pool(processes=jobs, initializer=_start_worker)
        try:
            with _progress(show) as update:
                results: list[AsyncResult[_ChunkResult]] = []

                def finished(part: _ChunkResult) -> None:
                    if part.blob_hits and on_hits is not None:
                        on_hits()

                total = 0
                for chunk in chunks:
                    results.append(pool.apply_async(_scan_chunk, (str(repo), chunk), callback=finished))
                    total += len(chunk)
                    update(counter.value, total)
                for res in results:
                    while not res.ready():
                        update(counter.value, total)
                        res.wait(0.1)
                    _merge(merged, res.get())
            pool.close()
        except BaseException:
            # Ctrl-C or a failed chunk: stop the workers now instead of finishing the whole history.
            pool.terminate()
            raise
        finally:
            pool.join()
        return merged
    finally:
        _DETECTOR = None
        _PROGRESS = None
        _RECORD = False
        _COLLECT = False


def _start_worker() -> None:
    # Workers leave Ctrl-C to the parent, which stops the scan with one line; their cat-file
    # is ended (and checked) when the pool closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    multiprocessing.util.Finalize(None, _close_reader, exitpriority=10)


def _reader(repo: str) -> git.objects.BatchReader:
    """This process's long-lived cat-file for ``repo`` (one per worker, kept across chunks)."""
    global _READER
    if _READER is None or str(_READER.repo) != repo:
        _close_reader()
        _READER = git.objects.BatchReader(repo)
    return _READER


def _close_reader() -> None:
    global _READER
    reader, _READER = _READER, None
    if reader is not None:
        reader.close()


@contextmanager
def _progress(show: bool) -> Iterator[Callable[[int, int], None]]:
    if not show:
        yield lambda _done, _total: None
        return
    from sanitize.scan.progress import bar

    with bar() as update:
        yield update


def _merge(into: _ChunkResult, part: _ChunkResult) -> None:
    into.blob_hits.update(part.blob_hits)
    into.message_hits.update(part.message_hits)
    into.generated.update(part.generated)
    into.documented.update(part.documented)
    into.blobs += part.blobs
    into.bytes += part.bytes
    into.commits += part.commits
    into.read_seconds += part.read_seconds
    into.detect_seconds += part.detect_seconds
    into.read.extend(part.read)
    into.names |= part.names
    for person, commit in part.people.items():
        into.people.setdefault(person, commit)  # chunks merge in walk order: the first commit stays
    into.taggers.update(part.taggers)
    into.parents.update(part.parents)


def _remember(cache: ScanCache, result: _ChunkResult, paths: dict[str, str]) -> None:
    """Add every object this scan read to the cache, with its hits (none for most)."""
    blob_hits, message_hits = result.blob_hits, result.message_hits
    for oid, typ, size in result.read:
        if oid not in blob_hits and oid not in message_hits:
            cache.add_clean(oid, paths.get(oid, ""), typ, size)
        elif typ == "blob":
            cache.add(oid, paths.get(oid, ""), Entry(typ, size, tuple(blob_hits[oid]),
                                                     frozenset(result.generated.get(oid, ())),
                                                     frozenset(result.documented.get(oid, ()))))
        else:
            cache.add(oid, "", Entry(typ, size, tuple(message_hits[oid][1])))


def _replay(result: _ChunkResult, cached: list[tuple[str, Entry]]) -> None:
    """Fold the cached objects into ``result`` as if they had just been read."""
    for oid, e in cached:
        if e.type == "blob":
            result.blobs += 1
            result.bytes += e.size
            if e.hits:
                result.blob_hits[oid] = list(e.hits)
            if e.generated:
                result.generated[oid] = set(e.generated)
            if e.documented:
                result.documented[oid] = set(e.documented)
        elif e.type in ("commit", "tag"):
            if e.type == "commit":
                result.commits += 1
            if e.hits:
                result.message_hits[oid] = (e.type, list(e.hits))


def _scan_chunk(repo: str, chunk: list[tuple[str, str]]) -> _ChunkResult:
    """Worker: stream one chunk through ``git cat-file --batch`` and detect."""
    detector = _DETECTOR
    assert detector is not None
    result = _ChunkResult()
    paths = dict(chunk)
    done = 0
    collect = _COLLECT
    started = time.perf_counter()
    for oid, obj_type, data in _reader(repo).read([oid for oid, _ in chunk]):
        if _RECORD:
            result.read.append((oid, obj_type, len(data)))
        detecting = time.perf_counter()
        if obj_type == "blob":
            result.blobs += 1
            result.bytes += len(data)
            hits = detector.scan_blob(data, paths.get(oid, ""))
            if hits:
                result.blob_hits[oid] = hits
                strong, documented = _value_traits(detector, data, paths.get(oid, ""), hits)
                if strong:
                    result.generated[oid] = strong
                if documented:
                    result.documented[oid] = documented
        elif obj_type in ("commit", "tag"):
            if obj_type == "commit":
                result.commits += 1
                if collect:
                    people, result.parents[oid] = commit_people(data)
                    for p in people:
                        if p:
                            result.people.setdefault(p, oid)
            elif collect:
                result.taggers[oid] = tag_people(data)
            body, _ = message_body(obj_type, data)
            hits = detector.scan_message(body)
            if hits:
                result.message_hits[oid] = (obj_type, hits)
        elif obj_type == "tree" and collect:
            result.names.update(tree_names(data, oid))
        result.detect_seconds += time.perf_counter() - detecting
        done += 1
        if _PROGRESS is not None and done % 256 == 0:
            with _PROGRESS.get_lock():
                _PROGRESS.value += 256
    if _PROGRESS is not None:
        with _PROGRESS.get_lock():
            _PROGRESS.value += done % 256
    result.read_seconds = time.perf_counter() - started - result.detect_seconds
    return result


def _value_traits(detector: Detector, data: bytes, path: str, hits: list[Hit]) -> tuple[set[str], set[str]]:
    """sha256s of this blob's generic-rule values that look machine-made, and of those that only
    occur inside Python docstrings (documentation kept in a source file: ``SECRET_KEY = 'dev'``).

    Hits carry no values, so the few blobs with generic findings are detected once more here,
    in the worker, and only hashes leave it.
    """
    generic = [h for h in hits if h.kind == "content" and context.is_generic(h.rule)]
    if not generic or context.classify(path) in context.ALWAYS_LOW_CONTEXTS:
        return set(), set()  # there a generic value is low-confidence whatever it looks like
    values = detector.values(data, path)
    strong = {h.secret_sha256 for h in generic
              if h.secret_sha256 in values and context.looks_generated(values[h.secret_sha256].reveal())}
    documented: set[str] = set()
    if context.has_docstrings(path):
        spans = context.docstring_spans(data)
        for h in generic:
            secret = values.get(h.secret_sha256)
            if secret is not None and spans and context.only_in_spans(data, secret.reveal(), spans):
                documented.add(h.secret_sha256)
    return strong, documented


def read_objects(repo: str | Path, oids: list[str]) -> Iterator[tuple[str, str, bytes]]:
    """(oid, type, content) for each id via one ``git cat-file --batch`` (the git layer's reader)."""
    return git.objects.read(repo, oids)


# --- locating -------------------------------------------------------------------------------


def _locate(repo: Path, refs: list[history.RefInfo], inv: history.Inventory, result: _ChunkResult,
            revs: Sequence[str] = history.ALL_REFS, graph_cache: Path | None = None,
            phases: dict[str, float] | None = None, *, collected: bool = False,
            spool: git.log.RawSpool | None = None) -> list[Finding]:
    phases = phases if phases is not None else {}
    t = time.monotonic()
    origins = history.resolve_blobs(repo, set(result.blob_hits), revs, spool,
                                    keep=history.log_copy(repo, refs, revs, graph_cache) if result.blob_hits else None)
    commit_targets = {c for o in origins.values() for c in o.commits}
    commit_targets |= {oid for oid, (typ, _) in result.message_hits.items() if typ == "commit"}
    phases["locate"] = time.monotonic() - t
    t = time.monotonic()
    # The workers read every commit of the walk: their parents are the graph (a purge's workdir keeps
    # the git layer's graph for plan and rewrite instead).
    parents = result.parents if collected and graph_cache is None else None
    reaching = history.ref_sets(repo, refs, commit_targets, revs, graph_cache=graph_cache, parents=parents)
    phases["reachability"] = time.monotonic() - t
    t = time.monotonic()
    paths = dict(inv.blobs)
    findings: list[Finding] = []
    for blob, hits in result.blob_hits.items():
        origin = origins.get(blob)
        if origin is not None:
            ref_names = reaching.of(origin.commits)  # one tuple per distinct set, not per finding
            path, commit = origin.path, origin.commit
            places = origin.paths or ((path, commit),)
        else:  # a blob named directly by a ref or a tag
            ref_names = tuple(r.name for r in refs if r.target == blob)
            path, commit = paths.get(blob, ""), ""
            places = ((path, commit),)
        strong = result.generated.get(blob, set())
        documented = result.documented.get(blob, set())
        for h in hits:
            # A secret-bearing file is reported at every path it had (a moved key must go from each);
            # a content value is replaced wherever it is, so once is enough.
            for where, first in (places if h.kind == "path" else ((path, commit),)):
                # A value is replaced wherever it is: it is as exposed as the most exposed path of its blob.
                ctx = context.classify(where) if h.kind == "path" else _widest_context(places)
                if ctx == "source" and h.secret_sha256 in documented:
                    ctx = "docs"  # an example in a docstring is documentation, whatever the file
                conf = context.confidence(h.rule, ctx, generated_value=h.secret_sha256 in strong)
                findings.append(Finding(rule=h.rule, kind=h.kind, path=where or None,  # type: ignore[arg-type]
                                        blob=blob, commit=first or None, line=h.line, secret_sha256=h.secret_sha256,
                                        preview=h.preview, refs=ref_names, context=ctx, confidence=conf,
                                        encoding=h.encoding))
    for oid, (typ, hits) in result.message_hits.items():
        msg_refs = reaching.of((oid,)) if typ == "commit" else history.refs_naming(refs, oid)
        for h in hits:
            # A message is the team's own text: source context; a generic value there stays plannable.
            conf = context.confidence(h.rule, "source", generated_value=False)
            findings.append(Finding(rule=h.rule, kind="message", path=None, blob=None, commit=oid, line=h.line,
                                    secret_sha256=h.secret_sha256, preview=h.preview, refs=msg_refs,
                                    context="source", confidence=conf, encoding=h.encoding))
    findings.sort(key=lambda f: (f.kind != "path", f.path or "", f.commit or "", f.line or 0, f.rule))
    phases["findings"] = time.monotonic() - t
    return findings


def _widest_context(places: tuple[tuple[str, str], ...]) -> str:
    found = {context.classify(p) for p, _ in places}
    return next(c for c in context.CONTEXTS if c in found)


# --- recovering values for the plan ----------------------------------------------------------


def recover_values(repo: str | Path, findings: Iterable[Finding], *,
                   rules_file: str | None = None) -> dict[str, Recovered]:
    """finding.id → the exact secret value and the literal forms it sits in, re-detected from the blob or
    message the finding names.

    Re-detection runs the same rules at the finding's path (path-restricted rules,
    such as ``password:`` in YAML, only fire there); a value still not found is looked
    for with every path restriction lifted, since the scan may have seen the blob under
    another of its names. Each value comes with every literal that holds it in that object
    (itself, its JSON-escaped or URL-encoded form, the base64 run it was decoded from): what
    ``--replace-text`` must replace. Path findings are omitted (the plan deletes the file; no
    value is needed), and so are findings whose value can no longer be re-derived.
    """
    wanted = [f for f in findings if f.kind != "path"]
    if not wanted:
        return {}
    detector = Detector(load_custom_rules(rules_file) if rules_file else ())
    gdir = git.git_dir(repo)
    by_oid: dict[str, list[Finding]] = {}
    for f in wanted:
        oid = (f.blob if f.kind == "content" else f.commit) or ""
        if oid:
            by_oid.setdefault(oid, []).append(f)
    out: dict[str, Recovered] = {}
    for oid, obj_type, data in read_objects(gdir, sorted(by_oid)):
        if obj_type in ("commit", "tag"):
            data = message_body(obj_type, data)[0]
        elif obj_type != "blob":
            continue
        cache: dict[tuple[str | None, bool], dict[str, Recovered]] = {}
        for f in by_oid[oid]:
            path = f.path if obj_type == "blob" else None
            for any_path in (False, True):
                key = (path, any_path)
                if key not in cache:
                    cache[key] = detector.recover(data, path, any_path=any_path, blob=obj_type == "blob")
                secret = cache[key].get(f.secret_sha256)
                if secret is not None:
                    out[f.id] = secret
                    break
    return out
