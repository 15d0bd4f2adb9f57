"""Apply a reviewed plan to a fresh mirror with git-filter-repo, then prove the result clean.

Steps, each recorded in the workdir's state (stage ``rewrite``, ``step``) so a
re-run after a crash resumes instead of starting over:

1. ``cloned``: ``git clone --mirror --no-local SOURCE DIR/mirror.git`` and
   ``DIR/backup.bundle`` (every ref, 0600) verified — before anything is rewritten.
2. ``filtered``: git-filter-repo, driven as a module (this is the only file that
   imports it): path deletions, ``--replace-text``/``--replace-message`` from
   plan.secrets, ``--sensitive-data-removal``, empty commits kept so every old
   commit maps to exactly one new one; its commit-map and ref-map copied to DIR.
3. ``done``: reflogs expired and gc'd (filter-repo does it), rescan with the same
   rules plus a direct search of every object for the planned values,
   gitleaks as a second opinion, report (JSON + Markdown).

A crash inside filter-repo leaves a half-rewritten mirror: the re-run drops it
and clones again (the backup bundle already holds the original).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sanitize import git, names
from sanitize.artifacts import rewrite_report
from sanitize.artifacts.blast_numbers import BlastNumbers
from sanitize.artifacts.rewrite_record import RewriteRecord
from sanitize.artifacts.rewrite_report import RewriteReport
from sanitize.artifacts.state import StageRecord
from sanitize.errors import GitError, SanitizeError, UsageError, VerificationFailed
from sanitize.faults import fault_point
from sanitize.purge import blast_radius, fail_closed, second_opinion
from sanitize.purge.blast_radius import BlastRadius
from sanitize.purge.plan import MARKER, History, Plan, copy_plan, load_plan, peel_commits
from sanitize.purge.rescan import Remaining
from sanitize.workdir import Workdir, file_sha256, write_atomic

ZERO = "0" * 40
# What a workdir may hold before its first rewrite (a plan written straight into it, a playbook's scan).
_PRE_REWRITE = {"plan.json", "plan.secrets", "plan.md", "findings.json", "state.json", "audit.log", "review",
                "scan-cache.json"}
_HEX = re.compile(rb"[0-9a-f]{40}")
_WORD = re.compile(rb"[A-Za-z0-9_]")
_SIGNATURES = (b"-----BEGIN PGP SIGNATURE-----", b"-----BEGIN SSH SIGNATURE-----", b"-----BEGIN SIGNED MESSAGE-----")


class RewriteError(SanitizeError):
    """git-filter-repo refused or failed; the message names what to fix."""

    exit_code = 2


@dataclass(frozen=True)
class RewriteResult:
    """What the rewrite did: the report document and where the artifacts are."""

    workdir: Path
    report: RewriteReport
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def mirror(self) -> Path:
        return self.workdir / "mirror.git"

    @property
    def clean(self) -> bool:
        return self.report.clean


# Entry point ----------------------------------------------------------------------------
def rewrite(plan_path: str, workdir: str, *, progress: bool = False, rules_file: str | None = None,
            location: git.Location | None = None, scan_cache: str | None = None) -> RewriteResult:
    """Rewrite a mirror of the plan's source into ``workdir``; VerificationFailed if anything planned remains.

    ``location``: the plan's source with its credentials, when this process has them (plan.json holds
    only the redacted form; without it they come from the environment or git's credential helper).
    ``scan_cache``: the object cache of the scan the plan came from (``scan --cache``): the rescan then
    reads only the objects that scan did not (the rewritten ones); it is copied into the workdir's cache.
    """
    plan = load_plan(plan_path)
    origin = git.Location.restore(plan.source, location)
    root = Path(workdir).absolute()  # git and filter-repo run inside the mirror: relative paths would break
    _check_workdir(root, plan)
    prior = Workdir(root).stage("rewrite") if (root / "state.json").is_file() else StageRecord()
    report_path = root / "rewrite-report.json"
    if prior.status == "done" and prior.text("plan_digest") == plan.digest and report_path.is_file():
        # Done already (the source may even carry the rewritten history by now): nothing to redo.
        return RewriteResult(root, rewrite_report.load(report_path))
    _check_source(plan, origin)
    wd = Workdir.create(root)
    copy_plan(plan, root)
    step = prior.text("step") if prior.text("plan_digest") == plan.digest else None
    wd.record("rewrite", "running", plan_digest=plan.digest, source=plan.source, step=step or "started")
    wd.audit.append("rewrite.start", plan_digest=plan.digest, source=plan.source, resume_from=step)
    timings: dict[str, float] = {}
    inv_path = root / "rewrite-inventory.json"

    try:
        bundle_ok = _bundle_is_original(wd, plan)
        if step == "filtered" and not (bundle_ok and inv_path.is_file() and wd.mirror.is_dir()):
            step = None
        if step != "filtered":
            # A mirror whose refs are still the original ones was never rewritten (filter-repo moves
            # refs only at its very end): reuse it. Anything else is dropped and cloned again.
            if not (inv_path.is_file() and _is_original_mirror(wd.mirror, plan)):
                t = time.monotonic()
                _clone(plan, wd, origin)
                timings["clone"] = time.monotonic() - t
                fault_point("rewrite:after-clone")
                t = time.monotonic()
                write_atomic(inv_path, json.dumps(_inventory(wd.mirror, plan)) + "\n")
                timings["inventory"] = time.monotonic() - t
            if not bundle_ok:
                t = time.monotonic()
                _backup(wd)
                timings["bundle"] = time.monotonic() - t
                fault_point("rewrite:after-bundle")
            wd.record("rewrite", "running", step="cloned")
            step = "cloned"
        inventory = json.loads(inv_path.read_text(encoding="utf-8"))
        if step == "cloned" and "blast" not in inventory:  # an inventory from before the blast radius was kept
            inventory = _inventory(wd.mirror, plan)
            write_atomic(inv_path, json.dumps(inventory) + "\n")
        if step == "cloned":
            t = time.monotonic()
            wd.record("rewrite", "running", step="filtering")
            radius = BlastRadius.from_dict(inventory["blast"])
            inventory["gitlinks"] = _filter(plan, wd, radius, progress=progress)
            inventory["renamed_refs"] = _rename(plan, wd)
            inventory["unmapped"] = _complete_commit_map(wd, inventory)
            inventory["notes_moved"] = _refile_notes(wd)
            _expire_and_gc(wd.mirror)  # a restricted (--refs) filter-repo run leaves the old objects to us
            write_atomic(inv_path, json.dumps(inventory) + "\n")
            timings["filter_repo"] = time.monotonic() - t
            wd.record("rewrite", "running", step="filtered")
        else:
            # Resuming after filter-repo finished: make sure the old objects are gone.
            t = time.monotonic()
            _expire_and_gc(wd.mirror)
            timings["gc"] = time.monotonic() - t
        t = time.monotonic()
        after = _objects(wd.mirror)  # one listing for the report and the direct search
        report, record = _report(plan, wd, inventory, after)
        timings["report"] = time.monotonic() - t
        t = time.monotonic()
        verification = _verify(plan, wd, rules_file=rules_file or plan.rules_file, inventory=inventory,
                               scan_cache=scan_cache, after=after)
        timings["rescan"] = time.monotonic() - t
        t = time.monotonic()
        report["independent_check"] = second_opinion.gitleaks(wd.mirror, plan.planned_sha256s,
                                                               _rewritten_range(report, inventory))
        timings["gitleaks"] = time.monotonic() - t
        if not report["blast_radius"]["matches"]:
            verification["problems"] += [f"blast radius: {d}" for d in report["blast_radius"]["differences"]]
            verification["clean"] = False
        report["verification"] = verification
        report["timings"] = {k: round(v, 3) for k, v in timings.items()}
        typed = rewrite_report.parse(report, "the rewrite report")  # what leaves the stage is the typed report
        write_atomic(root / "rewrite-report.json", json.dumps(typed.dump(), indent=2, ensure_ascii=False) + "\n")
        write_atomic(root / "rewrite-report.md", render_report(typed))
        if not verification["clean"]:
            wd.record("rewrite", "failed", step="verify-failed")
            wd.audit.append("rewrite.failed", plan_digest=plan.digest, problems=len(verification["problems"]))
            raise VerificationFailed(
                f"rewrite verification failed: {len(verification['problems'])} planned item(s) still reachable in "
                f"{wd.mirror} (see {root / 'rewrite-report.md'}); do not push")
        artifacts = {name: file_sha256(root / name) for name in
                     ("plan.json", "plan.secrets", "commit-map", "ref-map", "rewrite-report.json")}
        wd.record("rewrite", "done", step="done", artifacts=artifacts, **record.dump())
        wd.audit.append("rewrite.done", plan_digest=plan.digest, commits_changed=len(record.old_commits),
                        refs_changed=len(record.first_changed))
    except SanitizeError:
        if wd.stage("rewrite").status == "running":
            wd.record("rewrite", "failed")
        raise
    return RewriteResult(root, typed, timings)


# Refusals (before anything is written) -----------------------------------------------------
def _check_workdir(root: Path, plan: Plan) -> None:
    """A workdir is fresh, or belongs to this very plan; anything else is refused untouched."""
    if not root.exists():
        return
    if not root.is_dir():
        raise UsageError(f"{root}: exists and is not a directory")
    entries = {p.name for p in root.iterdir()}
    if not entries:
        return
    digests: set[str] = set()
    if "state.json" in entries:
        state = Workdir(root).state()
        for name in ("plan", "rewrite"):
            d = state.stage(name).text("plan_digest")
            if d:
                digests.add(d)
        if state.meta.plan_digest:
            digests.add(state.meta.plan_digest)
    elif not entries <= _PRE_REWRITE:
        raise UsageError(f"{root}: not empty and not a git-sanitize workdir; choose an empty --workdir "
                         f"(nothing was changed)")
    wd_plan = root / "plan.json"
    if wd_plan.is_file() and wd_plan.resolve() != plan.path.resolve():
        try:
            digests.add(json.loads(wd_plan.read_text(encoding="utf-8")).get("digest", "?"))
        except (OSError, ValueError, AttributeError):
            digests.add("?")
    other = sorted(d for d in digests if d != plan.digest)
    if other:
        raise UsageError(f"{root}: workdir belongs to another plan ({other[0][:12]}); use a fresh --workdir "
                         f"(nothing was changed)")


def _check_source(plan: Plan, origin: git.Location) -> None:
    """The source must be the repository the plan was made for, with the tips the scan saw."""
    if not origin.is_url and not Path(plan.source).exists():
        raise UsageError(f"{plan.source}: the plan's source does not exist")
    try:
        now = git.remote_refs(origin)
    except GitError as exc:
        hint = f" ({origin.hint})" if origin.hint else ""
        raise UsageError(f"{plan.source}: the plan's source is not a readable git repository{hint}") from exc
    now = names.from_plan(plan).show_keys(now)  # compared, and printed, as the plan shows them
    seen = plan.tips
    if seen and not set(seen.values()) & set(now.values()):
        raise UsageError(f"{plan.source}: the plan was made for another repository (none of its "
                         f"{len(seen)} ref tips is there)")
    moved = sorted(r for r in set(seen) | set(now) if seen.get(r) != now.get(r))
    if moved:
        raise UsageError(f"{plan.source}: {len(moved)} ref(s) differ from the scan (e.g. {moved[0]}): the plan "
                         f"does not describe this repository any more; scan and plan again")


# Steps ----------------------------------------------------------------------------------
def _is_original_mirror(mirror: Path, plan: Plan) -> bool:
    """A mirror from an earlier run that still holds exactly the scanned tips (not yet rewritten)."""
    try:
        return mirror.is_dir() and _shown_refs(plan, mirror) == plan.tips
    except GitError:  # a directory that is not (or no longer) a repository: clone again
        return False


def _clone(plan: Plan, wd: Workdir, origin: git.Location) -> None:
    """Clone into a temporary beside the mirror and rename it into place: a kill mid-clone leaves no
    half-made mirror.git for the next run to trip on, only a temporary it removes."""
    partial = wd.mirror.with_name(wd.mirror.name + ".partial")
    for stale in (partial, wd.mirror):
        if stale.exists():
            shutil.rmtree(stale)  # ours, half-made or half-rewritten: the bundle/source hold the original
    git.run(["clone", "--quiet", "--mirror", "--no-local", origin, str(partial)])
    # The mirror needs no remote (push names its target each time), and git-filter-repo reads
    # ``git config --list`` line by line: a source path with a newline in it broke that parse.
    git.run(["config", "--remove-section", "remote.origin"], cwd=partial, check=False)
    got = _shown_refs(plan, partial)
    if got != plan.tips:
        moved = sorted(r for r in set(got) | set(plan.tips) if got.get(r) != plan.tips.get(r))
        shutil.rmtree(partial)
        raise UsageError(f"{plan.source}: the clone's refs differ from the plan (e.g. {moved[0]}); scan and plan "
                         f"again")
    partial.rename(wd.mirror)


def _backup(wd: Workdir) -> None:
    """Every ref of the original, 0600, verified, before anything is rewritten."""
    git.bundle.create(wd.mirror, wd.bundle)


def _shown_refs(plan: Plan, repo: Path) -> dict[str, str]:
    """The repository's refs, named as the plan shows them (a value in a ref name redacted)."""
    return names.from_plan(plan).show_keys(git.refs(repo))


def _bundle_is_original(wd: Workdir, plan: Plan) -> bool:
    """A backup bundle from an earlier attempt is kept only if it is complete and holds exactly the plan's tips."""
    if not (wd.bundle.is_file() and wd.mirror.is_dir()):
        return False
    if not git.bundle.verify(wd.bundle, cwd=wd.mirror):
        return False
    return names.from_plan(plan).show_keys(git.bundle.heads(wd.bundle, cwd=wd.mirror)) == plan.tips


def _objects(repo: Path) -> dict[str, str]:
    """Every object in the repository → its type."""
    return {oid: info.type for oid, info in git.objects.check_all(repo).items()}


def _size_kib(repo: Path) -> int:
    stats = dict(line.split(": ", 1) for line in git.out(["count-objects", "-v"], cwd=repo).splitlines())
    return int(stats.get("size", 0)) + int(stats.get("size-pack", 0))


def _headers(repo: Path, shas: list[str]) -> Iterator[tuple[str, bytes]]:
    """(id, raw object) for commits/tags, via one cat-file --batch."""
    for oid, _kind, data in git.objects.read(repo, shas):
        yield oid, data


def _inventory(mirror: Path, plan: Plan) -> dict[str, Any]:
    """What the original holds, kept beside the mirror so a resumed run can still report."""
    objects = _objects(mirror)
    peeled = peel_commits(mirror, plan.tips.values())
    history = History.load(mirror, peeled.values(), cache=mirror.parent)  # the graph scan and plan kept
    signed_commits = [sha for sha, raw in _headers(mirror, history.order)
                      if b"\ngpgsig " in raw.split(b"\n\n", 1)[0] or b"\ngpgsig-sha256 " in raw.split(b"\n\n", 1)[0]]
    tag_objects = [s for s, k in objects.items() if k == "tag"]
    signed_tags = [sha for sha, raw in _headers(mirror, tag_objects) if any(sig in raw for sig in _SIGNATURES)]
    values = [v.reveal().encode("utf-8", "surrogateescape") for v in plan.secret_values()]
    red = names.from_plan(plan)
    holders: set[str] = set()
    radius = blast_radius.compute(mirror, plan.tips, [red.reveal(p) for p in plan.paths], values, history=history,
                                  names=red.values(), holders=holders,
                                  cache=mirror.parent,  # the raw log scan (or plan) kept
                                  keep_log=not any("path-name" in n.kinds for n in plan.names))
    return {
        "blast": radius.to_dict(),
        "blobs": sorted(s for s, k in objects.items() if k == "blob"),
        # Every original object was read in full above: the verification reads only the objects the rewrite made.
        "non_blobs": sorted(s for s, k in objects.items() if k != "blob"),
        "value_holders": sorted(holders),
        "order": history.order,
        "parents": {c: list(p) for c, p in history.parents.items()},
        "peeled": peeled,
        "signed_commits": signed_commits,
        "signed_tags": signed_tags,
        "size_kib": _size_kib(mirror),
        "gitlinks": [],
    }


class _Env:
    """filter-repo runs git with os.environ and in the current directory: fix both, restore after."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd

    def __enter__(self) -> None:
        self._old_cwd = os.getcwd()
        self._old_env = dict(os.environ)
        env = git.git_env()  # computed before clearing: it keeps PATH and HOME
        os.environ.clear()
        os.environ.update(env)
        os.chdir(self.cwd)

    def __exit__(self, *exc: object) -> None:
        os.chdir(self._old_cwd)
        os.environ.clear()
        os.environ.update(self._old_env)


def filter_repo_args(plan: Plan, paths_file: Path | None, secrets_file: Path | None, *,
                     quiet: bool = True, refs: list[str] | None = None) -> list[str]:
    """The git-filter-repo arguments for a plan (the bench runs plain filter-repo with the same).

    ``refs``: rev-list arguments limiting the export (``BlastRadius.rev_list_args``): the refs that
    reach a changed commit, minus the history of the unchanged parents at the boundary. Every commit
    outside that range keeps its id and signature; refs outside it are not touched.
    """
    args = ["--force", "--sensitive-data-removal", "--no-fetch",
            "--prune-empty", "never", "--prune-degenerate", "never"]
    if quiet:
        args.append("--quiet")
    if paths_file is not None:
        args += ["--invert-paths", "--paths-from-file", str(paths_file)]
    if secrets_file is not None:
        args += ["--replace-text", str(secrets_file), "--replace-message", str(secrets_file)]
    if refs:
        args += ["--refs", *refs]
    return args


def path_line(path: str) -> bytes:
    """One --paths-from-file line that matches exactly ``path`` (and anything under it).

    ``literal:`` normally; a path with a newline or ``==>`` (which filter-repo would read as a line
    break or a rename) becomes an anchored ``regex:`` with every non-word byte hex-escaped.
    """
    raw = path.encode("utf-8", "surrogateescape")
    if b"\n" not in raw and b"\r" not in raw and b"==>" not in raw:
        return b"literal:" + raw + b"\n"
    escaped = b"".join(bytes([c]) if _WORD.fullmatch(bytes([c])) else b"\\x%02x" % c for c in raw)
    return b"regex:^" + escaped + b"(?:/|\\Z)\n"


def write_paths_file(plan: Plan, dest: Path) -> Path | None:
    """--paths-from-file lines for the plan's paths (None when no path is deleted)."""
    if not plan.paths:
        return None
    dest.write_bytes(b"".join(path_line(p) for p in _git_paths(plan)))
    return dest


def _git_paths(plan: Plan) -> list[str]:
    """The plan's deleted paths as git has them: a path shown redacted is the real path before the
    rename and ``redacted-…`` after it (both listed: either may be what filter-repo matches)."""
    red = names.from_plan(plan)
    out: dict[str, None] = {}
    for p in plan.paths:
        out.setdefault(red.reveal(p), None)
        out.setdefault(names.to_renamed(p), None)
    return list(out)


def _write_identity_maps(wd: Workdir) -> None:
    """Nothing to export: filter-repo is not run (without --refs it would rewrite every ref)."""
    meta = wd.mirror / "filter-repo"
    meta.mkdir(exist_ok=True)
    (meta / "commit-map").write_text(f"{'old':<40} new\n", encoding="utf-8")
    (meta / "ref-map").write_text(f"{'old':<40} {'new':<40} ref\n", encoding="utf-8")
    for name in ("commit-map", "ref-map"):
        shutil.copyfile(meta / name, wd.root / name)


def _filter(plan: Plan, wd: Workdir, radius: BlastRadius, *, progress: bool) -> list[list[str]]:
    """Run git-filter-repo on the mirror, over the blast radius only; return the gitlinks it saw as
    [commit, path, target]."""
    import git_filter_repo as gfr

    # Metadata of an earlier, interrupted run would make filter-repo treat this one as its continuation.
    shutil.rmtree(wd.mirror / "filter-repo", ignore_errors=True)
    if not radius.export_refs:
        _write_identity_maps(wd)
        return []
    paths_file = write_paths_file(plan, wd.root / "paths-to-delete")
    secrets_file = wd.plan_secrets if plan.planned_sha256s else None
    values = [v.reveal().encode("utf-8", "surrogateescape") for v in plan.secret_values()]
    marker = MARKER.encode()
    gitlinks: list[list[str]] = []

    required = list(plan.fail_closed.names) if plan.fail_closed is not None else []

    def blob_callback(blob: Any, _meta: Any) -> None:
        # --replace-text skips binary blobs (a NUL in the first 8 KiB); a planned value must not survive there.
        if b"\0" in blob.data[:8192]:
            for v in values:
                if v in blob.data:
                    blob.data = blob.data.replace(v, marker)
        elif required:
            # Runs after --replace-text: a fallback to the marker becomes "the variable is required".
            blob.data = fail_closed.apply(blob.data, required)

    def commit_callback(commit: Any, _meta: Any) -> None:
        fault_point("rewrite:inside-filter-repo")  # crash tests: killed mid-rewrite
        for fc in commit.file_changes:
            if fc.type == b"M" and fc.mode == b"160000":
                gitlinks.append([(commit.original_id or b"").decode(), fc.filename.decode("utf-8", "replace"),
                                 fc.blob_id.decode() if isinstance(fc.blob_id, bytes) else str(fc.blob_id)])

    class MirrorFilter(gfr.RepoFilter):  # type: ignore[misc]
        def _migrate_origin_to_heads(self) -> None:
            # A mirror keeps refs/remotes/* exactly as the source has them; filter-repo would turn
            # them into branches (and drop those that collide). Nothing to fetch either: we just cloned.
            return

        def _setup_lfs_orphaning_checks(self) -> None:
            super()._setup_lfs_orphaning_checks()
            tracker = self._lfs_object_tracker
            if tracker is None:
                return
            # filter-repo 2.47's LFS check asserts that every id-named file change is a blob; a gitlink
            # (a commit id) then crashes the run. Gitlinks are never LFS pointers: skip them.
            original = tracker.check_file_change_data
            kinds = git.objects.TypeProbe(wd.mirror)
            opened.append(kinds)

            def check(git_id: Any, source: bool) -> None:
                if not isinstance(git_id, int) and kinds.type_of(git_id) != "blob":
                    return
                original(git_id, source)

            tracker.check_file_change_data = check

    opened: list[git.objects.TypeProbe] = []
    log_path = wd.root / "filter-repo.log"
    # A value in a ref name, path or identity: filter-repo's own callbacks give each its new name.
    red = names.from_plan(plan)
    renames: dict[str, Any] = {}
    if red:
        # filter-repo calls the filename callback after its path filter, with None for a deleted path.
        renames = {"refname_callback": red.rename, "name_callback": red.rename, "email_callback": red.rename,
                   "filename_callback": lambda name: None if name is None else red.rename(name)}
    tracker_class = gfr.LFSObjectTracker
    find_all = tracker_class.find_all_lfs_objects_in_repo
    tracker_class.find_all_lfs_objects_in_repo = _find_all_lfs_objects_in_repo
    try:
        # The export names the real refs; the plan shows them redacted.
        args = gfr.FilteringOptions.parse_args(filter_repo_args(plan, paths_file, secrets_file, quiet=not progress,
                                                                refs=[red.reveal(r) for r in radius.rev_list_args()]))
        with open(log_path, "w", encoding="utf-8") as log, _Env(wd.mirror):
            out = sys.stderr if progress else log
            with contextlib.redirect_stdout(out):
                MirrorFilter(args, blob_callback=blob_callback if values else None,
                             commit_callback=commit_callback, **renames).run()
    except SystemExit as exc:
        raise RewriteError(f"git-filter-repo failed: {str(exc.code).strip().splitlines()[0] if exc.code else 'exit'} "
                           f"(log: {log_path})") from None
    finally:
        tracker_class.find_all_lfs_objects_in_repo = find_all
        for probe in opened:
            probe.close()
        if paths_file is not None:
            paths_file.unlink(missing_ok=True)
    meta = wd.mirror / "filter-repo"
    for name in ("commit-map", "ref-map"):
        shutil.copyfile(meta / name, wd.root / name)
    return gitlinks


def _rename(plan: Plan, wd: Workdir) -> dict[str, str]:
    """Rename the refs filter-repo did not export, and show the old names in what it wrote."""
    red = names.from_plan(plan)
    if not red:
        return {}
    done = names.rename_refs(wd.mirror, red)
    meta = wd.mirror / "filter-repo"
    for f in (wd.ref_map, wd.root / "filter-repo.log", *(meta.iterdir() if meta.is_dir() else ())):
        names.redact_file(f, red)
    return done


def _find_all_lfs_objects_in_repo(tracker: Any, repo: bytes, source: bool) -> None:
    """LFS pointers reachable from any ref, for filter-repo's orphan check in a restricted (--refs) run.

    filter-repo 2.47 reads ``rev-list --objects --all`` there and asserts every named object is a
    blob, which fails on the first named tree (any subdirectory). Same result, blobs only.
    """
    import git_filter_repo as gfr

    if not source:
        tracker.file_info = gfr.FileInfoValueHelper(None, None, repo)
    found = tracker.source_objects if source else tracker.target_objects
    cwd = os.fsdecode(repo)
    listing = git.run(["rev-list", "--objects", "--all"], cwd=cwd).stdout
    ids = [line.split(b" ", 1)[0].decode("ascii") for line in listing.splitlines() if b" " in line]
    for info in git.objects.check(cwd, ids):
        if info is not None and info.type == "blob" and info.size < 1024:
            oid = info.oid.encode("ascii")
            lfs_id = tracker._get_lfs_values(tracker.file_info.get_contents_by_identifier(oid)).get(b"oid")
            if lfs_id:
                found.objects.add(lfs_id)
    if not source:
        tracker.file_info.finalize()


def _complete_commit_map(wd: Workdir, inv: dict[str, Any]) -> list[str]:
    """Make every old commit map to exactly one new commit; return any changed commit still unmapped.

    Commits outside the blast radius were not exported: they map to themselves. filter-repo 2.47 also
    leaves out of commit-map the last commit it exports (e.g. a notes commit): taken from ref-map.
    """
    rows = _read_map(wd.commit_map)
    mapped = {r[0]: r[1] for r in rows}
    missing = [c for c in inv["order"] if c not in mapped]
    if missing:
        ref_rows = _read_map(wd.ref_map)
        news = peel_commits(wd.mirror, [r[1] for r in ref_rows if r[1] != ZERO])
        for old, new, _ref in ref_rows:
            old_c = inv["peeled"].get(old)
            if old_c in missing and new in news:
                mapped[old_c] = news[new]
        exported = set(inv["blast"]["exported"])
        for c in missing:
            if c not in mapped and c not in exported:
                mapped[c] = c
        text = f"{'old':<40} new\n" + "".join(f"{o} {n}\n" for o, n in sorted(mapped.items()))
        write_atomic(wd.commit_map, text)
    return [c for c in inv["order"] if c not in mapped]


def _refile_notes(wd: Workdir) -> list[str]:
    """Re-file each note under the new id of the commit it annotates; return the old ids moved.

    filter-repo passes notes commits through untouched (their blobs are still filtered), so notes on
    rewritten commits would hang off ids that no longer exist. The tip notes commit is re-made with the
    same parents, author, committer and message and a re-filed (flat) tree, so the notes history keeps
    its length; commit-map and ref-map are updated to the re-made tip.
    """
    cmap = {old: new for old, new in _read_map(wd.commit_map)}
    moved: list[str] = []
    replaced: dict[str, str] = {}
    for ref, tip in sorted(git.refs(wd.mirror).items()):
        if not ref.startswith("refs/notes/"):
            continue
        entries = git.run(["ls-tree", "-r", "-z", "--full-tree", tip], cwd=wd.mirror).stdout.split(b"\0")
        lines: list[bytes] = []
        here: list[str] = []
        for entry in filter(None, entries):
            meta, _, path = entry.partition(b"\t")
            flat = path.replace(b"/", b"")
            if not _HEX.fullmatch(flat):
                if b"/" in path:
                    lines = []  # not a plain notes tree: leave it alone
                    here = []
                    break
                lines.append(entry)
                continue
            old = flat.decode()
            new = cmap.get(old, old)
            if new != old:
                here.append(old)
            lines.append(meta + b"\t" + new.encode())
        if not here:
            continue
        tree = git.run(["mktree", "-z"], cwd=wd.mirror, input=b"".join(x + b"\0" for x in lines)).stdout.strip()
        raw = git.run(["cat-file", "commit", tip], cwd=wd.mirror).stdout
        _head, sep, rest = raw.partition(b"\n")
        new_tip = git.out(["hash-object", "-t", "commit", "-w", "--stdin"], cwd=wd.mirror,
                          input=b"tree " + tree + sep + rest)
        git.run(["update-ref", ref, new_tip, tip], cwd=wd.mirror)
        replaced[tip] = new_tip
        moved += here
    if replaced:
        rows = [[o, replaced.get(n, n)] for o, n in _read_map(wd.commit_map)]
        write_atomic(wd.commit_map, f"{'old':<40} new\n" + "".join(f"{o} {n}\n" for o, n in rows))
        refs = [[o, replaced.get(n, n), r] for o, n, r in _read_map(wd.ref_map)]
        write_atomic(wd.ref_map, f"{'old':<40} {'new':<40} ref\n" + "".join(f"{o} {n} {r}\n" for o, n, r in refs))
        _expire_and_gc(wd.mirror)
    return sorted(set(moved))


def _expire_and_gc(mirror: Path) -> None:
    """Drop the old history's objects (filter-repo's --refs mode leaves that to us)."""
    git.run(["reflog", "expire", "--expire=now", "--all"], cwd=mirror)
    proc = git.run(["gc", "--quiet", "--prune=now"], cwd=mirror, check=False)
    if proc.returncode == 0:
        return
    lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
    raise GitError(f"git gc failed in {mirror}: {' / '.join(lines[-3:]) or proc.returncode}")


def _read_map(path: Path) -> list[list[str]]:
    rows = []
    for n, line in enumerate(git.lines(path.read_text(encoding="utf-8", errors="surrogateescape"))):
        if n == 0 or not line.strip():
            continue  # header
        rows.append(line.split(" ", 2))
    return rows


# Report ---------------------------------------------------------------------------------
def _report(plan: Plan, wd: Workdir, inv: dict[str, Any],
            after_objects: dict[str, str] | None = None) -> tuple[dict[str, Any], RewriteRecord]:
    mirror = wd.mirror
    commit_map = {old: new for old, new in _read_map(wd.commit_map)}
    changed = {old for old, new in commit_map.items() if old != new}
    history = History(inv["order"], {c: tuple(p) for c, p in inv["parents"].items()})
    meta = mirror / "filter-repo"
    first_file = meta / "first-changed-commits"
    from_filter_repo = {line.split()[0] for line in first_file.read_text().splitlines() if line.strip()} \
        if first_file.is_file() else set()
    # filter-repo leaves out the commits it passes through (notes): a changed commit with no changed parent.
    first_changed_commits = sorted(from_filter_repo | {
        c for c in changed if c in history.parents and not any(p in changed for p in history.parents[c])})
    after_refs = _shown_refs(plan, mirror)
    deleted_refs = sorted(r for r in plan.tips if r not in after_refs)
    per_ref: dict[str, Any] = {}
    renamed = {o: n for o, n in names.renamed_refs(plan.tips).items() if n in after_refs}
    first_changed: dict[str, str] = {}
    per_tip = history.changes_per_tip({r: inv["peeled"].get(o, "") for r, o in sorted(plan.tips.items())}, changed)
    for ref, old in sorted(plan.tips.items()):
        count, first = per_tip[ref]
        if first:
            first_changed[ref] = first
        if count or after_refs.get(ref) != old:
            new_name = renamed.get(ref, ref)  # a ref whose name held a value lives on under its new name
            per_ref[ref] = {"old": old, "new": after_refs.get(new_name), "commits_rewritten": count,
                            "first_changed": first, **({"renamed_to": new_name} if new_name != ref else {})}
    if after_objects is None:
        after_objects = _objects(mirror)
    before_blobs = set(inv["blobs"])
    purged = sorted(before_blobs - {s for s, k in after_objects.items() if k == "blob"})
    # A signed tag loses its signature only where the rewrite re-made it (its ref moved).
    signed_tags = [{"ref": ref, "old": old, "new": after_refs.get(ref)} for ref, old in sorted(plan.tips.items())
                   if old in set(inv["signed_tags"]) and after_refs.get(ref) != old]
    dropped_commits = sorted(c for c in inv["signed_commits"] if commit_map.get(c, c) != c)
    blast = _blast_check(plan, inv, changed, per_ref, len(dropped_commits), len(signed_tags))
    lfs_file = meta / "orphaned_lfs_objects"
    lfs = [x for x in lfs_file.read_text().split() if x] if lfs_file.is_file() else []
    gitlinks = [{"commit": c, "path": p, "target": t} for c, p, t in inv.get("gitlinks", []) if t in changed]
    report = {
        "schema": rewrite_report.SCHEMA,
        "plan_digest": plan.digest,
        "source": plan.source,
        "mirror": str(mirror),
        "commits": {"total": len(commit_map), "rewritten": len(changed)},
        "refs": per_ref,
        "deleted_refs": deleted_refs,
        "renamed_refs": renamed,
        "paths_removed": plan.paths,
        "replacements": [{"rule": r.rule, "preview": r.preview, "secret_sha256": r.secret_sha256,
                          "blobs_at_scan": r.blobs, "paths": list(r.paths)} for r in plan.replace],
        "messages_rewritten": [m.object for m in plan.messages],
        "blobs_purged": len(purged),
        "size_kib": {"before": inv["size_kib"], "after": _size_kib(mirror)},
        "blast_radius": blast,
        "signatures_dropped": {
            "commits": dropped_commits,
            "tags": signed_tags,
        },
        "lfs_objects_orphaned": lfs,
        "submodule_gitlinks_into_rewritten_history": gitlinks,
        "notes_refiled": len(inv.get("notes_moved", [])),
        "fix_in_code": [f.dump() for f in plan.fix_in_code],
        "fail_closed": {"names": list(plan.fail_closed.names) if plan.fail_closed else [],
                        "by_hand": [b.dump() for b in plan.by_hand]},
        "first_changed_commits": first_changed_commits,
        "unmapped_commits": inv.get("unmapped", []),
    }
    record = RewriteRecord(
        plan_digest=plan.digest, source=plan.source, tips_at_scan=dict(plan.tips), rewritten_tips=after_refs,
        deleted_refs=tuple(deleted_refs), first_changed=first_changed, old_commits=frozenset(changed),
        purged_blobs=tuple(purged), first_changed_commits=tuple(first_changed_commits),
        blast_radius=BlastNumbers.parse(blast["result"], "the rewrite's blast radius"), renamed_refs=renamed,
    )
    return report, record


def _blast_check(plan: Plan, inv: dict[str, Any], changed: set[str], per_ref: dict[str, Any],
                 signed_commits: int, signed_tags: int) -> dict[str, Any]:
    """What the rewrite changed, against what it computed before exporting and what the plan said.

    The result's numbers are the ones the record carries (approve, notify and status read them);
    any difference from the prediction or the plan is a verification problem: nothing may change
    that the reviewers were not told about.
    """
    predicted = BlastRadius.from_dict(inv["blast"])
    refs = {ref: int(x["commits_rewritten"]) for ref, x in per_ref.items()}
    carriers = len(set(predicted.carriers) & changed)
    result = {
        "commits_total": len(inv["order"]), "commits_changing": len(changed),
        "commits_carrying_purged_content": carriers, "commits_descendants_only": len(changed) - carriers,
        "refs_total": len(plan.tips), "refs_changing": refs, "refs_untouched": len(plan.tips) - len(refs),
        "signed_commits_losing_signature": signed_commits, "signed_tags_losing_signature": signed_tags,
    }
    differences: list[str] = []
    expected = predicted.summary()
    for key, want in expected.items():
        if result[key] != want:
            differences.append(f"{key}: predicted {_short(want)}, rewritten {_short(result[key])}")
    if changed != set(predicted.changed):
        differences.append(f"changed commits: {len(changed - set(predicted.changed))} not predicted, "
                           f"{len(set(predicted.changed) - changed)} predicted but kept")
    said = plan.summary.dump()  # a plan from before some numbers were counted states only the others
    for key, got in expected.items():
        if key in said and said[key] != got:
            differences.append(f"{key}: the plan said {_short(said[key])}, the mirror gives {_short(got)}")
    return {"plan": {k: said[k] for k in expected if k in said}, "predicted": expected,
            "result": result, "matches": not differences, "differences": differences}


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return f"{len(value)} ref(s) ({sum(value.values())} commit(s))"
    return str(value)


# Verification ---------------------------------------------------------------------------
def _to_search(mirror: Path, inventory: dict[str, Any] | None,
               after: dict[str, str] | None = None) -> tuple[list[str] | None, int]:
    """The objects the direct search must read (None: all of them), and how many objects the mirror holds.

    The inventory read every original object in full and kept those holding a planned value: an object
    still here from the original is clean unless it is one of those. So the new objects (what the rewrite
    made) and any holder still present are read; that is the same as reading every object.
    """
    if inventory is None or "value_holders" not in inventory or "non_blobs" not in inventory:
        return None, 0  # an inventory from an older version: read everything
    if after is None:
        after = _objects(mirror)
    before = set(inventory["blobs"]) | set(inventory["non_blobs"])
    holders = set(inventory["value_holders"])
    return sorted(o for o in after if o not in before or o in holders), len(after)


def _verify(plan: Plan, wd: Workdir, *, rules_file: str | None,
            inventory: dict[str, Any] | None = None, scan_cache: str | None = None,
            after: dict[str, str] | None = None) -> dict[str, Any]:
    """Nothing the plan removes may be reachable: by the scan's own rules, and by direct search."""
    mirror = wd.mirror
    problems: list[str] = []
    values = {v.sha256: v.reveal().encode("utf-8", "surrogateescape") for v in plan.secret_values()}
    # 1. every object searched in full for every planned value (the unchanged ones by the inventory's read)
    objects_read = 0
    objects_total = 0
    if values:
        found: set[str] = set()
        wanted, objects_total = _to_search(mirror, inventory, after)
        for _oid, _kind, data in git.objects.read(mirror, wanted):
            objects_read += 1
            for sha, v in values.items():
                if sha not in found and v in data:
                    found.add(sha)
        problems += [f"planned value {sha[:12]}… still in an object" for sha in sorted(found)]
    # 2. no deleted path anywhere in history
    if plan.paths:
        specs = [":(literal)" + p for p in _git_paths(plan)]
        hits = git.out(["log", "--all", "--format=%H", "--", *specs], cwd=mirror)
        if hits:
            problems.append(f"a deleted path is still in {len(hits.splitlines())} commit(s)")
    # 3. the scan's rules, on the rewritten mirror
    from sanitize.scan.cache import WORKDIR_NAME, ScanCache
    from sanitize.scan.engine import scan_repository

    # Unchanged blobs keep their ids: only what filter-repo rewrote is read again (and verify reuses it all).
    cache = ScanCache.open(wd.root / WORKDIR_NAME, rules_file)
    if scan_cache is not None:
        cache.adopt(ScanCache.open(scan_cache, rules_file))
    rep = scan_repository(str(mirror), rules_file=rules_file, cache=cache)
    left = Remaining.of(rep.findings, planned_sha256s=plan.planned_sha256s,
                        planned_paths=set(plan.paths) | {names.to_renamed(p) for p in plan.paths},
                        held_back=plan.held_back, dropped=plan.dropped)
    rescan = {"ran": True, "findings": len(rep.findings), "planned_still_found": len(left.planned),
              "objects_from_cache": cache.reused, "objects_read": cache.read,
              "rules": sorted({f.rule for f in rep.findings}), "summary": left.describe(),
              "remaining": left.to_dict()}
    problems += [f"rescan: {f.rule} finding {f.id} still present" for f in left.planned]
    return {"clean": not problems, "problems": problems, "objects_read": objects_read,
            **({"objects_in_mirror": objects_total} if objects_total else {}), "rescan": rescan}


# Beyond this many rev-list arguments the second opinion reads all history (one argv word must stay < 128 KiB).
_MAX_RANGE_ARGS = 2000


def _rewritten_range(report: dict[str, Any], inventory: dict[str, Any]) -> list[str] | None:
    """``git log`` arguments naming exactly the rewritten commits (new tips, minus the unchanged boundary);
    None for all history (the range would be too long to pass); [] when no commit was rewritten."""
    radius = BlastRadius.from_dict(inventory["blast"])
    tips = sorted({str(x["new"]) for ref, x in report["refs"].items()
                   if ref in radius.export_refs and x.get("new")})
    # A notes tip re-made only to re-file its notes: that one commit, not the notes history under it.
    notes: set[str] = set()
    under: set[str] = set()
    for ref in radius.notes_refiled:
        x = report["refs"].get(ref) or {}
        if x.get("new"):
            notes.add(str(x["new"]))
            old = inventory["peeled"].get(x["old"], x["old"])
            under.update(inventory["parents"].get(old, []))  # the re-made tip keeps the old tip's parents
    if not tips and not notes:
        return []
    args = [*tips, *sorted(notes - set(tips)), *(f"^{c}" for c in sorted(set(radius.boundary) | under))]
    return args if len(args) <= _MAX_RANGE_ARGS else None


def render_report(report: RewriteReport) -> str:
    """rewrite-report.md (no secret values: previews and hashes only)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("sanitize", "templates"), autoescape=False,  # noqa: S701 - Markdown
                      undefined=StrictUndefined,
                      keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    return env.get_template("rewrite-report.md.j2").render(r=report, marker=MARKER)


__all__ = ["RewriteError", "RewriteResult", "filter_repo_args", "path_line", "render_report", "rewrite",
           "write_paths_file"]
