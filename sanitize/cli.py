"""The ``git-sanitize`` command line: parses, dispatches, prints, exits.

This is the only module that prints results or exits. Stages raise
:class:`~sanitize.errors.SanitizeError` subclasses; ``_guard`` turns them into
one clear line on stderr and the documented exit code:
0 ok/clean, 1 findings remain or verification failed, 2 bad input, 3 awaiting approval.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from sanitize import __version__
from sanitize.errors import SanitizeError

if TYPE_CHECKING:
    from sanitize.scan.report import ScanReport

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def _one_line(message: str) -> str:
    """A message fit for one terminal line: a control character (a newline in a path or a ref name,
    an escape sequence, a bidi override) is shown escaped, never acted on."""
    from sanitize.printable import printable

    return printable(message)


def _fatal(message: str, code: int) -> NoReturn:
    click.echo(f"git-sanitize: {_one_line(message)}", err=True)
    sys.exit(code)


def _guard(func: F) -> F:
    """Map our errors to one line + exit code; never a traceback for bad input."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SanitizeError as exc:
            _fatal(str(exc), exc.exit_code)
        except OSError as exc:
            # The machine, not the input: a full or read-only disk. Every write is a rename of a
            # complete temporary, so what was there before is still there.
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
                raise
            where = f" writing {exc.filename}" if exc.filename else ""
            _fatal(f"{exc.strerror}{where}; files are written whole or not at all: free space and run the same "
                   "command again", 2)
        except KeyboardInterrupt:
            _fatal("interrupted; re-run the same command to resume", 130)

    return wrapper  # type: ignore[return-value]


def _exclusive(func: F) -> F:
    """Hold the ``--workdir``'s lock while the command runs: two stages never interleave in one purge."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from sanitize.workdir import hold

        with hold(kwargs.get("workdir")):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


class _Verbosity:
    """``--quiet`` / ``--verbose`` for this invocation (before or after the command name)."""

    quiet = False
    verbose = False


_VERBOSITY = _Verbosity()


def _set_verbosity(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and param.name:
        setattr(_VERBOSITY, param.name, True)


def _verbosity_options() -> list[click.Option]:
    return [click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, callback=_set_verbosity,
                         help="Print only errors and what a script needs (results stay in files and exit codes)."),
            click.Option(["-v", "--verbose"], is_flag=True, expose_value=False, callback=_set_verbosity,
                         help="Print every item, not only counts and the first few.")]


class _Command(click.Command):
    """Every command takes -q/--quiet and -v/--verbose (a command may declare its own to read them)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        declared = {p.name for p in self.params}
        self.params += [o for o in _verbosity_options() if o.name not in declared]


class _Group(click.Group):
    command_class = _Command
    group_class = type  # sub-groups are _Group too, so their commands get the options


def _say(line: str, *, err: bool = False) -> None:
    """A result line for a person: left out with --quiet."""
    if not _VERBOSITY.quiet:
        click.echo(line, err=err)


def _detail(line: str, *, err: bool = False) -> None:
    """A line only --verbose shows."""
    if _VERBOSITY.verbose and not _VERBOSITY.quiet:
        click.echo(line, err=err)


def _first(items: Sequence[T]) -> Sequence[T]:
    """The first few of a long list; all of them with --verbose."""
    return items if _VERBOSITY.verbose else items[:5]


def _working(label: str) -> Any:
    """A spinner on stderr while a long step runs, when a person watches (not with --quiet or in a pipe)."""
    if _VERBOSITY.quiet or not _terminal(sys.stderr):
        return contextlib.nullcontext()
    from rich.console import Console

    return Console(stderr=True).status(label)


def _terminal(stream: Any = None) -> bool:
    """Whether a person reads this stream (stdout by default)."""
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="git-sanitize")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors and what a script needs.")
@click.option("-v", "--verbose", is_flag=True, help="Print every item, not only counts and the first few.")
def cli(quiet: bool, verbose: bool) -> None:
    """Purge secrets from every ref of a git history, then rotate what leaked."""
    _VERBOSITY.quiet, _VERBOSITY.verbose = quiet, verbose


# --- scan -------------------------------------------------------------------------


@cli.command()
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


@cli.group("org")
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


@cli.group("config")
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


# --- plan / rewrite ---------------------------------------------------------------
@cli.command()
@click.argument("findings", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "out", default=None, type=click.Path(dir_okay=False),
              help="plan.json to write (default: ./plan.json outside a git work tree); plan.secrets (0600, every "
                   "leaked value) and plan.md are written beside it.")
@click.option("--keep-path", "keep_paths", multiple=True, metavar="PATH",
              help="Do not delete PATH from history (repeatable); values in it are still replaced.")
@click.option("--drop", "drop_findings", multiple=True, metavar="FINDING_ID",
              help="Leave out a finding judged a false positive (repeatable).")
@click.option("--include", "include_findings", multiple=True, metavar="FINDING_ID",
              help="Purge a finding the default holds back (a low-confidence value in a test, doc, example or "
                   "vendored file; plan.md lists them with this option). Repeatable.")
@click.option("--rules", "rules_file", default=None, type=click.Path(dir_okay=False),
              help="Rules file the scan used (recorded in the plan; the rewrite rescans with it).")
@_guard
def plan(findings: str, out: str | None, keep_paths: tuple[str, ...], drop_findings: tuple[str, ...],
         include_findings: tuple[str, ...], rules_file: str | None) -> None:
    """Turn FINDINGS into a reviewable plan: paths to delete, values to replace, messages to reword."""
    from pathlib import Path

    from sanitize import git
    from sanitize.errors import UsageError
    from sanitize.purge.blast_radius import describe
    from sanitize.purge.plan import make_plan

    if out is None:
        tree = git.work_tree_of(Path.cwd())
        if tree is not None:
            raise UsageError(f"plan.secrets holds every leaked value and would land in the work tree {tree}; "
                             "name a place outside it: -o ../purge/plan.json")
        out = "plan.json"
    if not Path(out).resolve().parent.is_dir():
        raise UsageError(f"-o {out}: the directory {Path(out).resolve().parent} does not exist")

    p = make_plan(findings, out, keep_paths=keep_paths, drop_findings=drop_findings,
                  include_findings=include_findings, rules_file=rules_file)
    s = p.summary
    _say(f"plan {p.digest} written to {p.path} (review {p.markdown_path}; values in {p.secrets_path}, 0600)")
    _say(f"  {s.delete_paths} path(s) to delete, {s.replacements} value(s) to replace, "
         f"{s.messages} message(s) to reword, {s.fix_in_code} fix-in-code item(s)")
    _say(f"  will change: {describe(s.dump())}")
    if s.held_back_values:
        _say(f"  {s.held_back_values} low-confidence value(s) in tests/docs/examples/vendored code held "
             f"back, not rewritten: review them in {p.markdown_path} (--include FINDING_ID to purge one)")


@cli.command()
@click.argument("plan_path", metavar="PLAN", type=click.Path(dir_okay=False))
@click.option("--workdir", required=True, type=click.Path(file_okay=False), help="The purge's workdir (0700).")
@click.option("--rules", "rules_file", default=None, type=click.Path(dir_okay=False),
              help="Rules file for the rescan (default: the one recorded in the plan, else the built-in rules).")
@click.option("--progress/--no-progress", default=None,
              help="Show git-filter-repo's own progress lines on stderr (default: a spinner with the elapsed time "
                   "when stderr is a terminal).")
@click.option("--cache", "cache_file", type=click.Path(dir_okay=False, exists=True), default=None,
              envvar="GIT_SANITIZE_CACHE",
              help="The object cache of the scan the plan came from (scan --cache; env GIT_SANITIZE_CACHE): the "
                   "rescan reads only the objects it did not (the rewritten ones).")
@_guard
@_exclusive
def rewrite(plan_path: str, workdir: str, rules_file: str | None, progress: bool | None,
            cache_file: str | None) -> None:
    """Apply PLAN to a fresh mirror in WORKDIR with git-filter-repo; exit 1 unless the rescan is clean."""
    from sanitize.purge.blast_radius import describe
    from sanitize.purge.rewrite import rewrite as do_rewrite

    if progress:
        result = do_rewrite(plan_path, workdir, progress=True, rules_file=rules_file, scan_cache=cache_file)
    else:
        with _working("rewriting: mirror clone, backup bundle, git-filter-repo, rescan, second opinion") \
                if progress is None else contextlib.nullcontext():
            result = do_rewrite(plan_path, workdir, progress=False, rules_file=rules_file, scan_cache=cache_file)
    r = result.report
    _say(f"rewrote {describe(r.blast_radius.result)}; "
         f"{len(r.paths_removed)} path(s) removed, {len(r.replacements)} value(s) replaced; "
         f"verification clean")
    rescan: Any = r.verification.rescan  # Remaining.to_dict() and the rescan's counts (sanitize/purge/rescan.py)
    _say(f"  {rescan['summary']}")
    for f in _first(rescan["remaining"]["unplanned"]["first"]):
        _say(f"    not in the plan: {f['rule']} at {f['path'] or 'a message'} (preview {f['preview']})")
    _say(f"  second opinion: {_second_opinion(dict(r.independent_check))}")
    _say(f"  mirror: {result.mirror}  report: {result.workdir / 'rewrite-report.md'}")
    _detail("  steps: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result.timings.items()))


def _second_opinion(check: dict[str, Any]) -> str:
    """The independent scanner's verdict on the rewritten history, in one phrase."""
    tool = check.get("tool", "gitleaks")
    if not check.get("ran"):
        return f"{tool} did not run ({check.get('reason', 'unknown reason')})"
    seen = check.get("planned_values_seen", 0)
    verdict = "none of the planned values" if not seen else f"{seen} PLANNED VALUE(S) STILL PRESENT"
    scope = {"all history": " in all history"}.get(str(check.get("scope")), f" in the {check.get('scope')}") \
        if check.get("scope") else ""
    return f"{tool} finds {check.get('findings', 0)} finding(s){scope}, {verdict}"



# --- notify / approve / push / verify / guard / migrate ----------------------------


@cli.command()
@click.option("--workdir", required=True, type=click.Path(file_okay=False), help="The purge's workdir.")
@click.option("--roster", type=click.Path(dir_okay=False), default=None,
              help="CSV (name,email,role) of people to notify beyond the history's authors.")
@click.option("--templates", type=click.Path(file_okay=False), default=None,
              help="Directory of notice templates overriding the built-in ones (same file names).")
@click.option("--deadline", default=None, help="Date by which every clone must be fresh or reset.")
@click.option("--freeze", default=None, help="The freeze window, as the notices should state it.")
@click.option("--from", "sender", default=None, help="From: address of the .eml notices.")
@_guard
@_exclusive
def notify(workdir: str, roster: str | None, templates: str | None, deadline: str | None, freeze: str | None,
           sender: str | None) -> None:
    """Render a notice per collaborator (Markdown, .eml, text), a team summary and the forge request."""
    from sanitize.collaborator.notify import DEFAULT_SENDER
    from sanitize.collaborator.notify import notify as do_notify

    with _working("writing the notices"):
        result = do_notify(workdir, roster=roster, templates=templates, deadline=deadline, freeze=freeze,
                           sender=sender or DEFAULT_SENDER)
    _say(f"{len(result.collaborators)} notices (Markdown, .eml, text) in {result.team_summary.parent}")
    if result.not_notified:
        _say(f"{len(result.not_notified)} bot or no-reply identities listed in the team summary, not notified")
    _say(f"team summary: {result.team_summary}")
    _say(f"forge support request: {result.support_request}")
    _say(f"publish for collaborators (migrate): {result.team_summary.parent / 'publish'}")


@cli.command()
@click.option("--commit-map", "commit_map", required=True,
              help="The published commit-map (file path or http(s) URL).")
@click.option("--purged", default=None,
              help="The published purged.json (default: beside the commit-map when it is a file).")
@click.option("--repo", default=".", type=click.Path(file_okay=False), show_default=True, help="Your clone.")
@click.option("--finish", is_flag=True,
              help="After migrating: check every migrated branch, tag and stash is in place, then delete the "
                   "backups, expire reflogs, prune, and prove no old commit is left.")
@_guard
def migrate(commit_map: str, purged: str | None, repo: str, finish: bool) -> None:
    """Collaborator side: carry unpushed commits, tags, stashes and uncommitted changes onto the rewritten history."""
    import shlex

    from sanitize.collaborator.migrate import finish as do_finish
    from sanitize.collaborator.migrate import migrate as do_migrate

    again = f"git-sanitize migrate --finish --commit-map {shlex.quote(commit_map)}"
    if finish:
        done = do_finish(repo, commit_map=commit_map)
        _say(f"deleted {done.backups_deleted} backup ref(s), expired reflogs and pruned; self-check passed: "
             f"none of the {done.old_commits_checked} old commit(s) is left in this clone")
        return
    result = do_migrate(repo, commit_map=commit_map, purged=purged)
    if not result.checked_purged:
        click.echo("warning: no purged.json: local work was not checked for removed files or values", err=True)
    for m in result.branches:
        what = f"{m.commits} local commit(s) moved onto {m.new_base[:12]}" if m.commits else "moved"
        _say(f"branch {_one_line(m.branch)}: {what}; now {m.new_tip[:12]} (old tip kept in {_one_line(m.backup_ref)})")
    for t in result.tags:
        _say(f"tag {_one_line(t.tag)}: now {t.new[:12]} (old one kept in {_one_line(t.backup_ref)})")
    for old_name, new_name in result.renamed.items():
        _say(f"renamed {old_name} to {_one_line(new_name)}: the old name held a leaked value")
    for s in result.stashes:
        _say(("uncommitted changes: carried over" if s.dirty else f"stash@{{{s.index}}}: re-based")
             + f" ({s.new[:12]})")
    if not result.restored_dirty:
        click.echo("your uncommitted changes did not apply cleanly: they are in git stash list (stash@{0})", err=True)
    if not (result.branches or result.tags or result.stashes or result.renamed):
        _say("nothing in this clone is on the old history; nothing to move")
    _say(f"next: check your branches (git log), then run: {again}")


@cli.command()
@click.option("--workdir", required=True, type=click.Path(file_okay=False), help="The purge's workdir.")
@click.option("--approver", required=True, help="Your name, as it goes in the audit log.")
@click.option("--digest", required=True, help="The full plan digest you reviewed (plan.json 'digest').")
@click.option("--key", type=click.Path(dir_okay=False), default=None,
              help="Sign the approval with this SSH private key (checked against the purge's allowed_signers).")
@click.option("--expires", default=None, help="How long the approval holds (30m, 24h, 7d; default: the playbook's, "
              "else 24h).")
@click.option("--ack-code", "ack_code", multiple=True, metavar="PATH",
              help="Acknowledge a hardcoded fallback in PATH that has no safe fail-closed edit (plan.md lists them): "
                   "it ships falling back to the marker and is fixed in code after the push. Repeatable.")
@_guard
@_exclusive
def approve(workdir: str, approver: str, digest: str, key: str | None, expires: str | None,
            ack_code: tuple[str, ...]) -> None:
    """Approve the force-push of the exact plan digest and the current rewritten tips."""

    from sanitize.purge import fail_closed
    from sanitize.purge.approval import ApprovalPolicy, approvers_of, describe_approval, judge
    from sanitize.purge.approval import approve as do_approve
    from sanitize.purge.plan import read_plan
    from sanitize.workdir import Workdir

    wd = Workdir.open(workdir)
    acks = fail_closed.check_acknowledged(read_plan(wd.plan), ack_code) if ack_code else []
    a = do_approve(workdir, approver=approver, digest=digest, key=key,
                   expires=expires or wd.meta().approval_expires or "24h")
    _say(f"{describe_approval(workdir, a)}; until {a.expires}")
    if acks:
        fail_closed.acknowledge(wd, acks, approver)
        _say(f"acknowledged, to fix in code after the push: {', '.join(acks)}")
    policy = ApprovalPolicy.from_meta(wd.meta().approval_policy)
    if policy is not None:
        _say(f"{len(approvers_of(judge(workdir, policy)))} distinct valid approver(s) now "
             f"(counted: {policy.describe()})")


@cli.command()
@click.option("--workdir", required=True, type=click.Path(file_okay=False), help="The purge's workdir.")
@click.option("--remote", default=None, help="Where to push (default: the plan's source).")
@click.option("--min-approvals", type=click.IntRange(min=1), default=None,
              help="Distinct valid approvals required (default 1).")
@click.option("--dry-run", is_flag=True, help="Print the exact ref updates; push nothing.")
@click.option("--gc-remote", is_flag=True,
              help="After the push, expire reflogs and prune on a path remote so old commits are gone.")
@click.option("--allowed-signers", type=click.Path(dir_okay=False), default=None,
              help="SSH allowed_signers file: approvals count when signed by one of its keys (default: the "
                   "playbook's).")
@click.option("--allow-unsigned", is_flag=True, help="Also count unsigned approvals recorded by `approve`.")
@_guard
@_exclusive
def push(workdir: str, remote: str | None, min_approvals: int | None, dry_run: bool, gc_remote: bool,
         allowed_signers: str | None, allow_unsigned: bool) -> None:
    """Force-push the rewritten refs: one atomic push, each ref leased to its tip at scan."""
    from pathlib import Path

    from sanitize.purge.approval import ApprovalPolicy
    from sanitize.purge.push import push as do_push

    policy = None
    if allowed_signers or allow_unsigned:
        policy = ApprovalPolicy(allowed_signers=Path(allowed_signers).resolve() if allowed_signers else None,
                                unsigned=allow_unsigned)
    result = do_push(workdir, remote=remote, min_approvals=min_approvals, dry_run=dry_run, gc_remote=gc_remote,
                     policy=policy)
    if dry_run:
        click.echo(f"dry run: would push to {result.remote} (approvers so far: {len(result.approvers)})")
        for u in result.updates:
            click.echo("  " + u.line())
        if result.stale_refs:
            click.echo(f"the real push would be refused: the remote moved since the scan on "
                       f"{len(result.stale_refs)} ref(s), e.g. {result.stale_refs[0]}; scan and plan again", err=True)
        if result.head_step:
            click.echo(f"the real push would be refused: {result.head_step}", err=True)
    elif result.already_pushed:
        _say(f"{result.remote} already holds the rewritten refs; nothing to push")
    else:
        _say(f"pushed {len(result.changed)} ref update(s) to {result.remote} "
             f"(approved by {', '.join(result.approvers)})")
        for u in result.changed:
            _detail("  " + u.line())
        if result.head_moved:
            _say(f"  the remote's HEAD named {result.head_moved}: it now names the branch's new name")
    for ref in result.hidden_refs:
        _say(f"  left out (host-managed, read-only): {ref} — see notices/forge-support-request.md")
    if result.tracking_refs:
        _say(f"  left out: {len(result.tracking_refs)} remote-tracking ref(s) of the scanned clone "
             "(refs/remotes/*), not branches of this remote")
    if result.gc_done:
        _say("  expired reflogs and pruned unreachable objects on the remote")


@cli.command()
@click.option("--workdir", required=True, type=click.Path(file_okay=False), help="The purge's workdir.")
@click.option("--remote", default=None, help="The remote to check (default: the plan's source).")
@_guard
@_exclusive
def verify(workdir: str, remote: str | None) -> None:
    """Clone the remote fresh: every tip must be the rewritten tip, and the rescan clean."""
    from sanitize.purge.verify import verify as do_verify

    with _working("verifying: fresh clone of the remote, every ref, every purged object, rescan"):
        result = do_verify(workdir, remote=remote)
    _say(f"{result.remote}: every ref matches the rewrite, no purged object is reachable, nothing the plan "
         "removes is found again")
    if result.remaining is not None:
        _say(f"  {result.remaining.describe()}")
        for f in _first(result.remaining.unplanned):
            _say(f"    not in the plan: {f.rule} at {f.path or 'a message'} (preview {f.preview})")
    _say(f"  second opinion: {_second_opinion(dict(result.second_opinion))}")
    served = result.still_served
    if served:
        click.echo(f"warning: the server still serves {len(served)} old commit(s) by id until it collects garbage "
                   "(path remote: push --gc-remote; hosted: send notices/forge-support-request.md)")
    else:
        _say("the server no longer serves the old first-changed commits")


@cli.group()
def guard() -> None:
    """The re-contamination guard (server-side pre-receive hook)."""


@guard.command("install")
@click.option("--workdir", required=True, type=click.Path(file_okay=False), help="The purge's workdir.")
@click.option("--remote", required=True, help="Path of the bare repository on the server.")
@_guard
@_exclusive
def guard_install(workdir: str, remote: str) -> None:
    """Install a pre-receive hook rejecting pushes that bring back purged objects."""
    from sanitize.purge.guard import install_guard

    hook = install_guard(workdir, remote)
    _say(f"pre-receive guard installed at {hook}")


@guard.command("check")
@click.option("--repo", default=".", type=click.Path(file_okay=False), show_default=True,
              help="The bare repository receiving the push (the hook runs inside it).")
@click.option("--rules", "rules_file", type=click.Path(dir_okay=False), default=None, help="Extra content rules.")
@click.option("--baseline", type=click.Path(dir_okay=False), default=None, help="Known findings to let through.")
@_guard
def guard_check(repo: str, rules_file: str | None, baseline: str | None) -> None:
    """Run by the pre-receive hook: scan what the push on stdin adds; exit 1 if it adds a secret."""
    from sanitize.purge.guard import check_push
    from sanitize.scan.formats import text as text_format

    report = check_push(repo, sys.stdin.read(), rules_file=rules_file, baseline=baseline)
    if not report.findings:
        return
    for f in report.findings:
        click.echo(f"git-sanitize guard: {text_format.line(f)}", err=True)
    refs = sorted({r for f in report.findings for r in f.refs}) or sorted(report.refs)
    click.echo(f"git-sanitize guard: rejected {', '.join(refs)}: {len(report.findings)} secret(s) in new content. "
               "Rewrite those commits without them and rotate the values: they have left your machine.", err=True)
    sys.exit(1)


# --- rotate -----------------------------------------------------------------------


@cli.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="rotation.yml: the backend and the secrets to rotate.")
@click.option("--mode", type=click.Choice(["compromised", "scheduled"]), default="compromised", show_default=True,
              help="compromised: no grace for the old value, prove it dead; scheduled: keep the previous version.")
@click.option("--due", is_flag=True, help="Only secrets older than their max_age (nothing due: exit 0).")
@click.option("--only", "only", multiple=True, metavar="NAME", help="Rotate only this secret (repeatable).")
@click.option("--findings", type=click.Path(dir_okay=False), default=None,
              help="A scan's findings JSON: report stored secrets exposed in history and rotate them first.")
@click.option("--dry-run", is_flag=True, help="Say what would rotate; change nothing.")
@click.option("--audit-log", type=click.Path(dir_okay=False), default=None,
              help="Append-only audit log (default: the config's audit_log, else ./rotation-audit.log).")
@click.option("--print-schedule", "print_schedule", type=click.Choice(["cron", "systemd", "k8s"]), default=None,
              help="Print a crontab line, systemd service+timer, or Kubernetes CronJob that runs "
                   "`rotate --mode scheduled --due` with this config; rotate nothing.")
@click.option("--image", default=None, metavar="IMAGE",
              help="Container image for --print-schedule k8s (default: git-sanitize:VERSION, as the Dockerfile "
                   "builds it).")
@click.option("--schedule", "when", default=None, metavar="EXPR",
              help="With --print-schedule: when to run, in that kind's syntax (cron fields, or a systemd "
                   "OnCalendar expression). Default: daily at 03:17 UTC.")
@click.option("--user", "run_as", default=None, metavar="USER",
              help="With --print-schedule cron/systemd: the account the job runs as (default: git-sanitize).")
@click.option("--env-file", "env_file", default=None, metavar="PATH",
              help="With --print-schedule cron/systemd: the 0600 file holding VAULT_TOKEN, admin DSNs, AWS_* "
                   "(default: /etc/git-sanitize/rotation.env).")
@click.option("--ack", "acks", multiple=True, metavar="NAME",
              help="Record that NAME (a secret, or an exposed finding as the summary names it) was revoked or "
                   "replaced by hand; rotate nothing. Repeatable; goes to the audit log.")
@click.option("--note", default="", help="With --ack: a short note for the audit log (a ticket id, who did it).")
@click.option("--revoke", is_flag=True,
              help="Revoke GitHub, GitLab and Slack tokens no target can rotate at the provider's API, after a "
                   "confirmation per token; each counts as revoked only once the provider refuses it.")
@click.option("--yes", "assume_yes", is_flag=True,
              help="With --revoke: confirm every revocation without asking (unattended runs).")
@click.option("--workdir", "workdir", default=None, type=click.Path(file_okay=False),
              help="The purge's workdir (its findings.json unless --findings names one): with --revoke, also "
                   "revoke the GitHub, GitLab and Slack tokens found only in the history, whose values its "
                   "plan.secrets holds (read only). A --findings file beside a plan.json implies it.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default=None,
              help="table: one row per credential (default on a terminal); json: one log line per step and a "
                   "summary line (default in a pipe).")
@_guard
def rotate(config_path: str, mode: str, due: bool, only: tuple[str, ...], findings: str | None, dry_run: bool,
           audit_log: str | None, print_schedule: str | None, image: str | None, when: str | None,
           run_as: str | None, env_file: str | None, acks: tuple[str, ...], note: str, fmt: str | None,
           revoke: bool, assume_yes: bool, workdir: str | None) -> None:
    """Rotate secrets in Vault / AWS Secrets Manager (and their databases).

    On a terminal a table of every credential's final state; in a pipe (or --format json)
    JSON log lines. Exit 0 when every exposed credential is rotated or revoked, 1 while any is still live.
    """
    import json
    import shlex

    table = (fmt or ("table" if _terminal() else "json")) == "table"

    if print_schedule:
        from pathlib import Path

        from rotation.schedule_templates import render_schedule
        from sanitize.errors import UsageError

        if image is not None and print_schedule != "k8s":
            raise UsageError("--image applies to --print-schedule k8s only")
        if print_schedule == "k8s" and (run_as is not None or env_file is not None):
            raise UsageError("--user and --env-file apply to --print-schedule cron/systemd (the CronJob runs as "
                             "the image's uid and reads a Kubernetes Secret)")
        options = {"image": image, "schedule": when, "user": run_as, "env_file": env_file}
        extra = {k: v for k, v in options.items() if v is not None}
        click.echo(render_schedule(print_schedule, str(Path(config_path).resolve()), **extra), nl=False)
        return
    for flag, value in (("--schedule", when), ("--user", run_as), ("--env-file", env_file)):
        if value is not None:
            from sanitize.errors import UsageError

            raise UsageError(f"{flag} applies to --print-schedule only")

    _revoke_usage(revoke, assume_yes, mode, bool(acks), dry_run)

    from rotation.config import load_config
    from rotation.engine import rotate as do_rotate
    from sanitize.audit import AuditLog

    config = load_config(config_path)
    history = None
    if not acks and (workdir is not None or revoke):
        from rotation.revocation.history import history_values, resolve

        source = resolve(workdir, findings)
        if source is not None:
            findings = str(source.findings)
            history = history_values(source) if revoke else None
    if acks:
        from rotation.engine import acknowledge

        for ack in acknowledge(config, list(acks), note=note, audit=AuditLog(audit_log) if audit_log else None):
            if table:
                _say(f"acknowledged {ack.name} as done by hand ({ack.actor}, {ack.ts}); recorded in the audit log")
            else:
                click.echo(json.dumps({"step": "ack", "status": "acknowledged", "secret": ack.name,
                                       "actor": ack.actor, "ts": ack.ts, "note": ack.note}))
        return

    def summarise(summary: Any, status: str) -> None:
        if not table:
            click.echo(json.dumps({"step": "summary", "status": status, **summary.to_dict()}))
        elif not _VERBOSITY.quiet or status != "ok":
            from rotation.terminal import render

            click.echo(render(summary, f"git-sanitize rotate --config {shlex.quote(config_path)} --ack"), nl=False)

    def step(record: str) -> None:
        if not table:
            click.echo(record)
        else:
            from rotation.terminal import step_line

            _detail(step_line(json.loads(record)), err=True)

    try:
        summary = do_rotate(config, mode=mode, due=due, only=list(only) or None, findings=findings,
                            dry_run=dry_run, audit=AuditLog(audit_log) if audit_log else None, log=step,
                            revoke=revoke, confirm=_revoke_confirmation(assume_yes), history=history)
    except SanitizeError as exc:
        failed = getattr(exc, "summary", None)  # the run finished but some secrets failed: still summarise
        if failed is not None:
            summarise(failed, "failed")
        raise
    if summary.still_live:
        summarise(summary, "still live")
        summary.raise_if_still_live(" (each summary outcome's action says what to do)")
    summarise(summary, "ok")


def _revoke_usage(revoke: bool, assume_yes: bool, mode: str, acks: bool, dry_run: bool) -> None:
    """--revoke revokes for good: only in compromised mode, and only with someone (or --yes) to confirm."""
    from sanitize.errors import UsageError

    if assume_yes and not revoke:
        raise UsageError("--yes applies to --revoke only")
    if not revoke:
        return
    if mode != "compromised":
        raise UsageError("--revoke applies to --mode compromised only (a scheduled run rotates, it never revokes)")
    if acks:
        raise UsageError("--revoke and --ack are separate runs: --ack records what was done by hand")
    if not assume_yes and not dry_run and not (_terminal(sys.stdin) and _terminal(sys.stderr)):
        raise UsageError("--revoke asks before revoking each token: run it on a terminal, or pass --yes for an "
                         "unattended run")


def _revoke_confirmation(assume_yes: bool) -> Any:
    """The engine's ``confirm``: a y/N prompt per token on stderr (or every token with --yes)."""
    def confirm(candidates: list[Any]) -> set[str]:
        if assume_yes:
            for c in candidates:
                _say(f"revoking {c.describe()} (confirmed by --yes)", err=True)
            return {c.name for c in candidates}
        click.echo(f"--revoke: {len(candidates)} token(s) can be revoked at their provider. A revoked token "
                   "cannot be restored: every user of it needs a new one.", err=True)
        return {c.name for c in candidates
                if click.confirm(f"Revoke {c.describe()}?", default=False, err=True)}

    return confirm


# --- run / status / restore --------------------------------------------------------


@cli.command()
@click.argument("playbook", type=click.Path(dir_okay=False))
@click.option("--check", "check_only", is_flag=True,
              help="Only validate the playbook and everything it names (source, workdir, roster, templates, "
                   "rules, baseline, approvals, rotation config and its environment); change nothing. Exit 2 if "
                   "any check fails.")
@_guard
def run(playbook: str, check_only: bool) -> None:
    """Run a purge playbook: every stage in order, resuming from the workdir's state.

    Every check of --check runs first: nothing starts unless all pass.
    Exits 3 at the approval gate; run it again after `approve` to resume at push.
    """
    from sanitize.playbook import config as playbook_config
    from sanitize.playbook import preflight
    from sanitize.playbook.runner import Runner

    def echo(line: str) -> None:
        _say(line, err=True)

    pb = playbook_config.load(playbook)
    checks = preflight.check_playbook(pb)
    if check_only:
        for c in checks:
            click.echo(c.line())
    preflight.raise_if_failed(checks, playbook, listed=check_only)
    if check_only:
        warned = sum(1 for c in checks if c.status == "warning")
        note = f" ({warned} warning(s) to read)" if warned else ""
        _say(f"all {len(checks)} checks passed{note}: `git-sanitize run {playbook}` can start")
        return
    if not pb.is_purge:
        # A rotation-only playbook (scheduled jobs): the rotation engine alone, as `rotate` would run it.
        from rotation.config import load_config
        from rotation.engine import rotate as do_rotate

        assert pb.rotate is not None  # parse() requires source or rotate
        summary = do_rotate(load_config(pb.rotate), mode=pb.rotate_mode, due=pb.due, log=click.echo)
        summary.raise_if_still_live("; each step's action says what to do, then `git-sanitize rotate --ack NAME`")
        _say(f"rotation done: {summary}")
        return
    result = Runner(pb, echo=echo, progress=_terminal(sys.stderr) and not _VERBOSITY.quiet).run()
    if result.clean:
        _say("clean: no secrets found in any ref's history")
    elif not result.ran:
        _say("nothing to do: every stage is done")
    else:
        _say(f"purge complete: {', '.join(result.ran)}")


@cli.command()
@click.option("--workdir", required=True, type=click.Path(file_okay=False), help="The purge's workdir.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_guard
def status(workdir: str, fmt: str) -> None:
    """Where a purge stands: plan digest, each stage, approvals, and what comes next."""
    import json

    from sanitize.playbook.runner import status as purge_status

    doc = purge_status(workdir)
    if fmt == "json":
        click.echo(json.dumps(doc, indent=2))
        return
    click.echo(f"workdir:     {doc['workdir']}")
    click.echo(f"source:      {doc['source']}")
    click.echo(f"plan digest: {doc['plan_digest'] or '(no plan yet)'}")
    for name, rec in doc["stages"].items():
        when = rec.get("finished") or rec.get("started") or ""
        click.echo(f"  {name:<8} {rec['status']:<8} {when}")
    a = doc["approvals"]
    click.echo(f"approvals:   {a['valid']} of {a['required']} {', '.join(a['approvers'])}".rstrip())
    click.echo(f"next:        {doc['next']}")


@cli.command()
@click.option("--workdir", required=True, type=click.Path(file_okay=False), help="The purge's workdir.")
@click.option("--to", "to", type=click.Path(file_okay=False), default=None,
              help="New bare repository for the original history (default: WORKDIR/restored.git).")
@_guard
def restore(workdir: str, to: str | None) -> None:
    """Recover the original history, every ref, from WORKDIR/backup.bundle."""
    from sanitize.purge.restore import restore as do_restore

    result = do_restore(workdir, to)
    _say(f"restored {len(result.refs)} refs from the backup bundle into {result.path}")


# --- manual and shell completion ------------------------------------------------------


@cli.command("man")
@click.option("--install", "install_it", is_flag=True,
              help="Write it to PREFIX/share/man/man1/git-sanitize.1 instead, for `man` and `git help sanitize`.")
@click.option("--prefix", type=click.Path(file_okay=False), default=None,
              help="Where to install (default: this Python's prefix, e.g. the venv).")
@_guard
def man_page(install_it: bool, prefix: str | None) -> None:
    """Print the manual page (roff), generated from this help."""
    from sanitize.manpage import install, render

    text = render(cli, "git-sanitize", __version__)
    if not install_it:
        click.echo(text, nl=False)
        return
    try:
        dest = install(text, prefix or sys.prefix)
    except OSError as exc:
        from sanitize.errors import UsageError

        raise UsageError(f"cannot install the man page ({exc.strerror or exc.__class__.__name__}); "
                         "choose a writable --prefix") from exc
    click.echo(f"man page installed at {dest} (man git-sanitize, git help sanitize)")


@cli.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@_guard
def completion(shell: str) -> None:
    """Print the shell completion script for SHELL.

    bash: eval "$(git-sanitize completion bash)" in ~/.bashrc; zsh: the same in ~/.zshrc;
    fish: git-sanitize completion fish > ~/.config/fish/completions/git-sanitize.fish
    """
    from click.shell_completion import get_completion_class

    comp_cls = get_completion_class(shell)
    assert comp_cls is not None  # click ships all three
    click.echo(comp_cls(cli, {}, "git-sanitize", "_GIT_SANITIZE_COMPLETE").source())


@cli.command("schema")
@click.argument("name", metavar="NAME")
@_guard
def schema(name: str) -> None:
    """Print the JSON schema (draft 2020-12) of an artifact: findings, plan, rewrite-record, rewrite-report,
    approval, state, rotation-run."""
    from sanitize.artifacts.schemas import schema_text

    click.echo(schema_text(name), nl=False)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="git-sanitize")


if __name__ == "__main__":
    main()
