"""Stage 1's commands: ``scan`` (one repository, a hook's change, or --repos), ``org merge|template``
and ``config show``."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, NoReturn

import click

from sanitize.cli.command import _VERBOSITY, _Command, _Group, _guard, _say

if TYPE_CHECKING:
    from sanitize.scan.report import ScanReport


@click.command(cls=_Command)
@click.argument("source", default=".", required=False)
@click.option("--format", "fmt", type=click.Choice(["json", "sarif", "markdown", "text"]), default=None,
              help="Report format (default: json into a file or a pipe, text on a terminal).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the report to FILE (mode 0600) instead of stdout.")
@click.option("--rules", "rules_file", type=click.Path(dir_okay=False), default=None,
              help="Extra content rules (YAML or TOML list of {id, regex, keywords, secret_group}).")
@click.option("--baseline", type=click.Path(dir_okay=False), default=None,
              help="Suppress known findings (our findings JSON or a detect-secrets baseline).")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Worker processes (default: 2 or fewer).")
@click.option("--staged", is_flag=True,
              help="Scan only the staged change (index blobs that differ from HEAD); no history. For pre-commit.")
@click.option("--range", "rev_range", metavar="A..B", default=None,
              help="Scan only what the commits reachable from B and not from A add.")
@click.option("--since", "since_rev", metavar="REV", default=None, help="Scan only what REV..HEAD adds.")
@click.option("--pre-push", "pre_push", is_flag=True,
              help="Scan only the commits being pushed (pre-commit's PRE_COMMIT_FROM_REF/TO_REF, "
                   "or git's pre-push lines on stdin).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="Settings file (default: .git-sanitize.toml or [tool.git-sanitize] in pyproject.toml at the "
                   "repository's root; see `git-sanitize config show`).")
@click.option("-q", "--quiet", is_flag=True,
              help="Print only the report (nothing on a clean terminal scan or with -o).")
@click.option("-v", "--verbose", is_flag=True, help="On a terminal, list every finding under the summary.")
@click.option("--cache", "cache_file", type=click.Path(dir_okay=False), default=None, envvar="GIT_SANITIZE_CACHE",
              help="Object cache (0600; env GIT_SANITIZE_CACHE): read only objects no earlier scan with the same "
                   "rules read; every finding is still located and reported.")
@click.option("--repos", "repos", metavar="LIST", default=None,
              help="Scan every repository of LIST (one URL or path per line, # comments; or a directory of "
                   "repositories) into --out-dir, and correlate their findings by value (org.json, org.md).")
@click.option("--shard", metavar="K/N", default=None,
              help="With --repos: scan only entries K, K+N, … (a Job's completion index); merge with `org merge`.")
@click.option("--out-dir", "out_dir", type=click.Path(file_okay=False), default=None,
              help="With --repos: where each repository's findings file, the shard file and org.json go.")
@_guard
def scan(source: str, fmt: str | None, output: str | None, rules_file: str | None, baseline: str | None,
         jobs: int | None, staged: bool, rev_range: str | None, since_rev: str | None, pre_push: bool,
         config_file: str | None, quiet: bool, verbose: bool, cache_file: str | None, repos: str | None,
         shard: str | None, out_dir: str | None) -> None:
    """Scan every object reachable from every ref of SOURCE (path or URL; default .).

    With --staged, --range, --since or --pre-push only that change is scanned, with the
    same rules, baseline and config. Exit 0 when clean, 1 when there are findings, 2 on bad input.
    """
    from pathlib import Path

    from sanitize.errors import UsageError

    if repos is not None or shard is not None or out_dir is not None:  # many repositories (each cached in DIR)
        others = [name for name, on in (("SOURCE", source != "."), ("--staged", staged), ("--range", rev_range),
                                        ("--since", since_rev), ("--pre-push", pre_push), ("-o", output),
                                        ("--format", fmt)) if on]
        if repos is None or out_dir is None or others:
            raise UsageError("--repos LIST --out-dir DIR [--shard K/N] go together, without "
                             + (", ".join(others) if others else "SOURCE, -o, --format or a range"))
        _scan_org(repos, out_dir, shard, jobs, rules_file, baseline, config_file, quiet=quiet or _VERBOSITY.quiet)

    modes = [name for name, on in (("--staged", staged), ("--range", rev_range), ("--since", since_rev),
                                   ("--pre-push", pre_push)) if on]
    if len(modes) > 1:
        raise UsageError(f"{' and '.join(modes)} cannot be combined; choose one")
    if output and not Path(output).parent.is_dir():
        raise UsageError(f"{output}: its directory does not exist")
    from sanitize.config import discover

    with discover(source, config_file) as found:
        cfg = found.override(rules=rules_file, baseline=baseline, fmt=fmt)
        if staged:
            from sanitize.scan.staged import scan_staged

            report = scan_staged(source, rules_file=cfg.rules.value, baseline=cfg.baseline.value)
        else:
            from sanitize.scan.cache import ScanCache
            from sanitize.scan.engine import scan_repository

            cache = ScanCache.open(cache_file, cfg.rules.value) if cache_file else None
            report = scan_repository(source, rules_file=cfg.rules.value, baseline=cfg.baseline.value, jobs=jobs,
                                     progress=sys.stderr.isatty() and not modes,
                                     select=_range_selector(rev_range, since_rev, pre_push), cache=cache)
    report = cfg.apply(report)
    if not modes and not quiet:
        from sanitize.playbook.preflight import work_tree_hint

        hint = work_tree_hint(source)
        if hint:
            _say(f"note: {hint}", err=True)
    scope = ("staged change" if staged else f"commits {rev_range}" if rev_range else
             f"commits {since_rev}..HEAD" if since_rev else "commits being pushed" if pre_push else "history")
    shown_to_a_person = _emit_report(report, cfg.format.value, output, scope, quiet=quiet or _VERBOSITY.quiet,
                                     verbose=verbose or _VERBOSITY.verbose)
    if report.findings:
        if modes and not shown_to_a_person:  # a hook's refusal: one line saying what to do
            click.echo(_refusal(len(report.findings), staged=staged, pre_push=pre_push), err=True)
        sys.exit(1)


def _scan_org(repos: str, out_dir: str, shard: str | None, jobs: int | None, rules_file: str | None,
              baseline: str | None, config_file: str | None, *, quiet: bool) -> NoReturn:
    """scan --repos: this shard's repositories into OUT_DIR; unsharded, the org report too (sanitize/scan/org.py)."""
    from sanitize.scan import org
    from sanitize.scan.repolist import load_repo_list, parse_shard

    where = parse_shard(shard) if shard is not None else (0, 1)
    listed = load_repo_list(repos)
    opts = org.ScanOptions(rules_file=rules_file, baseline=baseline, config_file=config_file)
    outcomes = org.scan_repos(listed, out_dir, shard=where, jobs=jobs or 2, opts=opts)
    failed = [o for o in outcomes if o.status != "ok"]
    if where[1] > 1:  # one shard of many: the merge step correlates
        for o in failed:
            click.echo(f"git-sanitize: not scanned: {o.source}: {o.error}", err=True)
        if not quiet:
            n = sum(o.findings for o in outcomes)
            click.echo(f"shard {where[0]}/{where[1]}: {len(outcomes)} repositories, {len(failed)} not scanned, "
                       f"{n} finding(s); merge the shards: git-sanitize org merge DIR... -o OUT")
        sys.exit(2 if failed else 1 if any(o.findings for o in outcomes) else 0)
    _emit_org(org.merge([out_dir], only=org.shard_file_name(0, 1)), out_dir, quiet=quiet)


def _emit_org(report: Any, out_dir: str, *, quiet: bool) -> NoReturn:
    """Write org.json/org.md, print the short summary, exit 2 incomplete / 1 findings / 0 clean."""
    from sanitize.scan.org import write_report

    json_path, md_path = write_report(report, out_dir)
    if not quiet:
        click.echo("\n".join(report.summary_lines()))
        click.echo(f"report: {json_path} and {md_path}")
    if not report.complete:
        click.echo("git-sanitize: the organisation scan is incomplete (see the report); it does not prove "
                   "anything clean", err=True)
    sys.exit(report.exit_code)


def _emit_report(report: ScanReport, fmt: str | None, output: str | None, scope: str, *, quiet: bool,
                 verbose: bool) -> bool:
    """Print or write the scan report; True when it went to a person's terminal as the summary view."""
    from pathlib import Path

    from sanitize.errors import UsageError
    from sanitize.scan.formats import render, terminal

    if fmt is None and not output and sys.stdout.isatty():
        # A person at a terminal: what was read, findings grouped by rule and file, what to do next.
        if report.findings or not quiet:
            click.echo(terminal.render(report, scope, verbose=verbose), nl=False)
        return True
    fmt = fmt or "json"
    text = render(report, fmt)
    if not output:
        click.echo(text, nl=not text.endswith("\n"))
        return False
    from sanitize.workdir import write_private

    try:
        write_private(Path(output), text.encode("utf-8"))
    except OSError as exc:
        raise UsageError(f"{output}: cannot write the report ({exc.strerror or exc.__class__.__name__})") from exc
    if not quiet and sys.stderr.isatty():
        n = len(report.findings)
        nxt = (f"next: git-sanitize plan {output}" if n and fmt == "json" and scope == "history"
               else terminal.scope_line(report, scope))
        click.echo(f"{n} finding(s) written to {output} ({fmt}); {nxt}", err=True)
    return False


def _refusal(n: int, *, staged: bool, pre_push: bool) -> str:
    """What a hook prints when it refuses: the count and what to do (never a value)."""
    if staged:
        return (f"git-sanitize: {n} secret(s) in the staged change; commit refused. "
                "Remove them, `git add` again and commit; a false positive goes in the baseline.")
    what = "the commits being pushed" if pre_push else "the range"
    return (f"git-sanitize: {n} secret(s) in {what}; refused. Rewrite those commits without them "
            "(git commit --amend, git rebase -i) and rotate the values if they ever left this machine; "
            "a false positive goes in the baseline.")


def _range_selector(rev_range: str | None, since_rev: str | None, pre_push: bool) -> Any:
    """The engine's ``select`` callback for --range / --since / --pre-push (None: every ref)."""
    from sanitize.scan import revrange

    if rev_range is not None:
        return lambda repo: revrange.parse_range(repo, rev_range)
    if since_rev is not None:
        return lambda repo: revrange.since(repo, since_rev)
    if pre_push:
        import os

        # git's own pre-push lines arrive on stdin; under pre-commit its variables say it all (stdin is spent).
        from_framework = "PRE_COMMIT_TO_REF" in os.environ or "PRE_COMMIT_LOCAL_BRANCH" in os.environ
        stdin_text = None if from_framework or sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
        return lambda repo: revrange.pushed(repo, os.environ, stdin_text)
    return None


@click.group("org", cls=_Group)
def org_group() -> None:
    """Many repositories: merge sharded `scan --repos` output; print the Kubernetes / GitHub Actions templates."""


@org_group.command("merge")
@click.argument("dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("-o", "--out-dir", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Where org.json and org.md go (may be one of DIRS).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@_guard
def org_merge(dirs: tuple[str, ...], out_dir: str, quiet: bool) -> None:
    """Merge the shard files of DIRS into one report correlating findings by value across repositories.

    Exit 0 clean, 1 findings, 2 a shard missing or a repository not scanned.
    """
    from sanitize.scan.org import merge

    _emit_org(merge(dirs), out_dir, quiet=quiet or _VERBOSITY.quiet)


@org_group.command("template")
@click.argument("kind", type=click.Choice(["k8s", "github"]))
@click.option("--shards", type=click.IntRange(min=1, max=1000), default=4, show_default=True,
              help="How many shards (Job completions, matrix entries).")
@click.option("--jobs", type=click.IntRange(min=1, max=64), default=2, show_default=True,
              help="Repositories scanned at once in each shard.")
@click.option("--image", default=None, help="k8s: the container image (default: git-sanitize:VERSION).")
@_guard
def org_template(kind: str, shards: int, jobs: int, image: str | None) -> None:
    """Print a Kubernetes Indexed Job (+ merge Job) or a GitHub Actions matrix workflow for `scan --repos`."""
    from sanitize.scan.org_templates import render

    click.echo(render(kind, shards=shards, jobs=jobs, image=image), nl=False)


@click.group("config", cls=_Group)
def config_group() -> None:
    """Per-repository scan settings (.git-sanitize.toml or [tool.git-sanitize] in pyproject.toml)."""


@config_group.command("show")
@click.argument("source", default=".", required=False)
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="Read this settings file instead of discovering one.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_guard
def config_show(source: str, config_file: str | None, fmt: str) -> None:
    """Print the effective scan settings for SOURCE (default .) and where each came from."""
    import json

    from sanitize.config import discover

    with discover(source, config_file) as cfg:
        doc = cfg.to_dict()
    if fmt == "json":
        click.echo(json.dumps(doc, indent=2))
        return
    click.echo(f"config file: {doc['file'] or '(none found; built-in defaults)'}")
    for key in ("rules", "baseline", "format", "allowlist.paths", "allowlist.values"):
        value, origin = doc[key]["value"], doc[key]["from"]
        if isinstance(value, list):
            shown = ", ".join(value) if key == "allowlist.paths" else f"{len(value)} sha256"
            shown = shown if value else "(none)"
        else:
            shown = value if value is not None else "(none)"
        click.echo(f"  {key:<17} {shown}  [{origin}]")
