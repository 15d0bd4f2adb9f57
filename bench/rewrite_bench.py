"""Rewrite bench: ``git-sanitize rewrite`` against plain ``git filter-repo`` with the same arguments.

Steps: scan the repository and plan from the findings (untimed setup), then per round
``git-sanitize rewrite PLAN --workdir FRESH`` (its own per-step timings come from
``rewrite-report.json``: clone, backup bundle, filter-repo, rescan, ...) and the plain
equivalent: ``git clone --mirror --no-local`` and ``git filter-repo`` with the arguments
``sanitize.purge.rewrite.filter_repo_args`` gives for the same plan, once over all history and once
restricted (``--refs``) to the plan's blast radius, the commits our rewrite exports, followed by the
reflog expiry and gc that a restricted filter-repo run leaves out. Target (issue 16): the filter-repo
step within 1.1x of plain filter-repo on the same commits, and far below the whole-history run.
Everything happens in a private temporary directory (mirrors, backup bundles, plan.secrets) removed
at the end.
Skips with one line when the plan/rewrite stages are not in this checkout or nothing is planned.
"""

from __future__ import annotations

import json
import random
import shlex
import statistics
import string
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench import measure, peers

_PHASES = (("clone", "clone (git clone --mirror --no-local)"), ("bundle", "backup bundle"),
           ("inventory", "inventory of the original"), ("filter_repo", "filter-repo (the rewrite step)"),
           ("gc", "gc"), ("report", "report"), ("rescan", "rescan"), ("gitleaks", "gitleaks second opinion"))


def available() -> str | None:
    """Why the rewrite bench cannot run, or None."""
    if peers.find_binary("git-sanitize") is None:
        return "git-sanitize is not installed"
    if peers.find_binary("git-filter-repo") is None:
        return "git-filter-repo is not installed"
    return None


def plant_near_tip(source: Path, seed: int = 16) -> str:
    """Commit a generated ``.env`` (an AWS key pair) on top of the default branch of the bare ``source`` and
    remove it again in the next commit: a leak one commit below the tip. Returns the branch."""
    from sanitize import git

    rng = random.Random(seed)
    key_id = "AKIA" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))
    secret = "".join(rng.choice(string.ascii_letters + string.digits + "/+") for _ in range(40))
    branch = git.out(["symbolic-ref", "HEAD"], cwd=source)
    tip = git.out(["rev-parse", f"{branch}^{{commit}}"], cwd=source)
    blob = git.out(["hash-object", "-w", "--stdin"], cwd=source,
                   input=f"AWS_ACCESS_KEY_ID={key_id}\nAWS_SECRET_ACCESS_KEY={secret}\n".encode())
    index = {"GIT_INDEX_FILE": str(source / "bench-plant.index")}
    git.run(["read-tree", tip], cwd=source, env=index)
    git.run(["update-index", "--add", "--cacheinfo", f"100644,{blob},.env"], cwd=source, env=index)
    tree = git.out(["write-tree"], cwd=source, env=index)
    (source / "bench-plant.index").unlink()
    who = {"GIT_AUTHOR_NAME": "Bench Planter", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
           "GIT_COMMITTER_NAME": "Bench Planter", "GIT_COMMITTER_EMAIL": "bench@example.invalid"}
    leak = git.out(["commit-tree", tree, "-p", tip, "-m", "deploy settings"], cwd=source, env=who)
    fix = git.out(["commit-tree", f"{tip}^{{tree}}", "-p", leak, "-m", "stop tracking .env"], cwd=source, env=who)
    git.run(["update-ref", branch, fix, tip], cwd=source)
    return branch


def _prepare(repo: Path, work: Path, commands: list[str], *, plant: bool) -> tuple[Path, Any, Path, Path] | str:
    """Scan and plan (untimed): the plan, the source it is for and the scan's object cache; or why not.

    ``plant``: on a copy of ``repo`` with a secret planted near the tip (:func:`plant_near_tip`), whose
    findings are the only ones planned (the repository's own are the baseline): the purge the issue times.
    """
    from sanitize.purge.plan import load_plan

    exe = peers.find_binary("git-sanitize") or "git-sanitize"
    findings, plan_path, cache = work / "findings.json", work / "plan.json", work / "scan-cache.json"
    steps: list[tuple[list[str], tuple[int, ...]]] = []
    source = repo
    if plant:
        source = work / "source.git"
        clone = ["git", "clone", "-q", "--mirror", "--no-local", str(repo), str(source)]
        commands.append(shlex.join(clone))
        if subprocess.run(clone, capture_output=True, check=False).returncode != 0:
            return "skipped: could not copy the repository"
        baseline = work / "baseline.json"
        proc = subprocess.run([exe, "scan", str(source), "--format", "json", "-o", str(baseline),
                               "--cache", str(cache)], capture_output=True, text=True, check=False)
        if proc.returncode not in (0, 1):
            return f"skipped: the baseline scan failed (exit {proc.returncode})"
        branch = plant_near_tip(source)
        commands.append(f"# a generated .env (AWS key pair) committed on {branch} and removed in the next commit")
        steps.append(([exe, "scan", str(source), "--format", "json", "-o", str(findings), "--baseline",
                       str(baseline), "--cache", str(cache)], (0, 1)))
    else:
        steps.append(([exe, "scan", str(source), "--format", "json", "-o", str(findings), "--cache", str(cache)],
                      (0, 1)))
    steps.append(([exe, "plan", str(findings), "-o", str(plan_path)], (0,)))
    for cmd, ok in steps:
        commands.append(shlex.join(cmd))
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode not in ok:
            last = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1][:200]
            return f"skipped: `{cmd[1]}` failed ({last})"
    loaded = load_plan(str(plan_path))
    if not loaded.paths and not loaded.planned_sha256s:
        return "skipped: the scan found nothing to rewrite in this repository"
    return plan_path, loaded, source, cache


def run(repo: Path, rounds: int, commands: list[str], *, plant: bool = False) -> list[str]:
    """Time the rewrite and plain filter-repo; the lines to print."""
    reason = available()
    if reason:
        return [f"skipped: {reason}"]
    return _run(repo, rounds, commands, plant=plant)


def _run(repo: Path, rounds: int, commands: list[str], *, plant: bool) -> list[str]:
    from sanitize.purge.rewrite import filter_repo_args, write_paths_file

    with tempfile.TemporaryDirectory(prefix="bench-rewrite-") as tmp:
        work = Path(tmp)
        prepared = _prepare(repo, work, commands, plant=plant)
        if isinstance(prepared, str):
            return [prepared]
        plan_path, plan, repo, cache = prepared  # from here on ``repo`` is the source the plan is for
        exe = peers.find_binary("git-sanitize") or "git-sanitize"
        filter_repo = peers.find_binary("git-filter-repo") or "git-filter-repo"
        paths_file = write_paths_file(plan, work / "paths-to-delete")
        secrets = None
        if plan.planned_sha256s:  # the plain run gets its own copy: the rewrite may consume or move the plan's
            secrets = work / "plain.secrets"
            secrets.write_bytes(plan.secrets_path.read_bytes())
            secrets.chmod(0o600)
        plain_args = filter_repo_args(plan, paths_file, secrets)
        # The same commits as the rewrite: filter-repo restricted to the plan's blast radius.
        from sanitize.purge import blast_radius

        values = [v.reveal().encode("utf-8", "surrogateescape") for v in plan.secret_values()]
        radius = blast_radius.compute(repo, plan.tips, plan.paths, values)
        same_args = filter_repo_args(plan, paths_file, secrets, refs=radius.rev_list_args())
        restricted_s: list[float] = []

        ours: list[measure.Sample] = []
        phases: dict[str, list[float]] = {}
        clone_s: list[float] = []
        plain_s: list[measure.Sample] = []
        problems: list[str] = []
        for r in range(rounds):
            wd = work / f"wd-{r}"
            # With the scan's object cache, as `run` (the playbook) always has it: the rescan reads the new objects.
            cmd = [exe, "rewrite", str(plan_path), "--workdir", str(wd), "--cache", str(cache)]
            sample = measure.run(cmd)
            if r == 0:
                commands.append(shlex.join(cmd))
            if sample.returncode not in (0, 1):
                return [f"git-sanitize rewrite failed: exit {sample.returncode}: {sample.error}"]
            if sample.returncode == 1:
                problems.append(f"round {r + 1}: rescan not clean ({sample.error})")
            ours.append(sample)
            report = wd / "rewrite-report.json"
            if report.is_file():
                for k, v in json.loads(report.read_text(encoding="utf-8")).get("timings", {}).items():
                    phases.setdefault(k, []).append(float(v))
            subprocess.run(["rm", "-rf", str(wd)], check=False)

            copy = work / f"plain-{r}.git"
            clone = ["git", "clone", "-q", "--mirror", "--no-local", str(repo), str(copy)]
            c = measure.run(clone)
            fr = [filter_repo, *plain_args]
            if r == 0:
                commands.append(shlex.join(clone))
                commands.append(f"(cd {shlex.quote(str(copy))} && {shlex.join(fr)})")
            if c.returncode != 0:
                return [f"plain clone failed: {c.error}"]
            clone_s.append(c.seconds)
            p = measure.run(fr, cwd=copy)
            if p.returncode != 0:
                return [f"plain git filter-repo failed: exit {p.returncode}: {p.error}"]
            plain_s.append(p)
            subprocess.run(["rm", "-rf", str(copy)], check=False)

            if radius.export_refs:  # plain filter-repo over the same commits, plus the gc --refs mode leaves out
                c = measure.run(clone)
                fr = [filter_repo, *same_args]
                gc = "git reflog expire --expire=now --all && git gc --quiet --prune=now"
                if r == 0:
                    commands.append(f"(cd {shlex.quote(str(copy))} && {shlex.join(fr)} && {gc})")
                p = measure.run(["sh", "-c", f"{shlex.join(fr)} && {gc}"], cwd=copy)
                if p.returncode != 0:
                    return [f"plain restricted git filter-repo failed: exit {p.returncode}: {p.error}"]
                restricted_s.append(p.seconds)
                subprocess.run(["rm", "-rf", str(copy)], check=False)

    lines = _table(plan, ours, phases, clone_s, plain_s, problems)
    lines.insert(1, f"blast radius: {blast_radius.describe(radius.summary())}")
    if restricted_s and "filter_repo" in phases:
        same = statistics.median(restricted_s)
        ratio = statistics.median(phases["filter_repo"]) / same
        lines.append(f"{'plain: git filter-repo --refs <same commits> + gc':<44} {same:>9.2f}")
        lines.append(f"rewrite step vs plain filter-repo on the same commits: {ratio:.2f}x (target <= 1.1x: "
                     f"{'met' if ratio <= 1.1 else 'MISSED'})")
        whole = statistics.median(s.seconds for s in ours) / (statistics.median(clone_s) + same)
        lines.append(f"whole rewrite vs plain clone + filter-repo on the same commits + gc: {whole:.2f}x")
    return lines


def _table(plan: Any, ours: list[measure.Sample], phases: dict[str, list[float]], clone_s: list[float],
           plain: list[measure.Sample], problems: list[str]) -> list[str]:
    med = statistics.median
    lines = [f"plan: {len(plan.paths)} path(s) to delete, {len(plan.planned_sha256s)} value(s) to replace; "
             f"{len(ours)} round(s)", "", f"{'step':<44} {'median s':>9} {'peak MiB':>9}", "-" * 64]
    lines.append(f"{'git-sanitize rewrite (whole command)':<44} {med(s.seconds for s in ours):>9.2f} "
                 f"{max(s.tree_rss for s in ours) / 2**20:>9.0f}")
    known = {k for k, _ in _PHASES}
    for key, label in _PHASES:
        if key in phases:
            lines.append(f"  {label:<42} {med(phases[key]):>9.2f}")
    for key in sorted(set(phases) - known):
        lines.append(f"  {key:<42} {med(phases[key]):>9.2f}")
    plain_med = med(s.seconds for s in plain)
    lines.append(f"{'plain: git clone --mirror --no-local':<44} {med(clone_s):>9.2f}")
    lines.append(f"{'plain: git filter-repo (same arguments)':<44} {plain_med:>9.2f} "
                 f"{max(s.tree_rss for s in plain) / 2**20:>9.0f}")
    lines.append("")
    if "filter_repo" in phases:
        ratio = med(phases["filter_repo"]) / plain_med
        lines.append(f"rewrite step vs plain filter-repo over all history: {ratio:.2f}x")
    else:
        lines.append("rewrite step vs plain filter-repo: no per-step timings in rewrite-report.json")
    total_plain = med(clone_s) + plain_med
    lines.append(f"whole rewrite vs plain clone + filter-repo: {med(s.seconds for s in ours) / total_plain:.2f}x "
                 "(ours also bundles, rescans and checks)")
    lines += problems
    return lines
