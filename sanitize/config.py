"""Per-repository scan settings: ``[tool.git-sanitize]`` in ``pyproject.toml`` or a ``.git-sanitize.toml``.

A team writes its extra rules, accepted findings, allowlist and preferred
format once, at the repository's root, and every scan of that repository —
by hand, in the pre-commit and pre-push hooks, in CI, in the server's
pre-receive guard — uses them. Settings are read from the work tree when there
is one, else from ``HEAD``'s tree (a bare repository on a server), so a push
cannot change the rules it is checked with. ``--config FILE`` names a file
instead; command-line options override single settings.

Keys (the same at the top of ``.git-sanitize.toml`` and under
``[tool.git-sanitize]`` in ``pyproject.toml``)::

    rules = "ci/secret-rules.toml"           # extra content rules (YAML or TOML), relative to the root
    baseline = ".git-sanitize-baseline.json"  # accepted findings (findings JSON or detect-secrets baseline)
    format = "text"                           # default report format: json, sarif, markdown, text
    [allowlist]                               # [tool.git-sanitize.allowlist] in pyproject.toml
    paths = ["tests/fixtures/*"]              # fnmatch globs on the path ("*" crosses "/")
    values = ["<sha256 hex of the value>"]    # a finding's secret_sha256, as the findings file shows it

The baseline file named here is itself never reported (it holds hashes and
previews, which the rules would flag), as detect-secrets skips its own baseline.

Unknown keys are an error naming the allowed ones: a misspelt allowlist must
not silently allow nothing, nor a misspelt rules file silently drop rules.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from sanitize import git
from sanitize.errors import UsageError
from sanitize.inputs import read_text
from sanitize.scan.report import Finding, ScanReport

CONFIG_NAME = ".git-sanitize.toml"
PYPROJECT = "pyproject.toml"
KEYS = ("rules", "baseline", "format", "allowlist")
ALLOWLIST_KEYS = ("paths", "values")
FORMATS = ("json", "sarif", "markdown", "text")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
DEFAULT = "default"


@dataclass(frozen=True)
class Setting:
    """One effective value and where it came from (a file, ``HEAD:<file>``, an option, or ``default``)."""

    value: Any
    origin: str = DEFAULT


@dataclass(frozen=True)
class ScanConfig:
    """The effective scan settings for one repository."""

    rules: Setting = field(default_factory=lambda: Setting(None))  # a local file path, or None
    baseline: Setting = field(default_factory=lambda: Setting(None))
    format: Setting = field(default_factory=lambda: Setting(None))
    allow_paths: Setting = field(default_factory=lambda: Setting(()))
    allow_values: Setting = field(default_factory=lambda: Setting(()))
    file: str | None = None  # the config file read, as shown to the user
    baseline_path: str | None = None  # the baseline's path in the repository: never reported itself

    def override(self, *, rules: str | None = None, baseline: str | None = None,
                 fmt: str | None = None) -> ScanConfig:
        """Command-line options win over the file, setting by setting."""
        out = self
        if rules is not None:
            out = replace(out, rules=Setting(rules, "--rules"))
        if baseline is not None:
            out = replace(out, baseline=Setting(baseline, "--baseline"))
        if fmt is not None:
            out = replace(out, format=Setting(fmt, "--format"))
        return out

    def allows(self, finding: Finding) -> bool:
        """True when the allowlist accepts ``finding`` (its value's hash, or its path)."""
        if finding.secret_sha256 in self.allow_values.value:
            return True
        path = finding.path
        if path and path == self.baseline_path:
            return True  # it holds hashes and 4-character previews, which look like secrets to the rules
        return bool(path) and any(fnmatch.fnmatchcase(path, g) for g in self.allow_paths.value)

    def apply(self, report: ScanReport) -> ScanReport:
        """``report`` without the findings the allowlist accepts."""
        if not self.allow_paths.value and not self.allow_values.value and not self.baseline_path:
            return report
        return replace(report, findings=[f for f in report.findings if not self.allows(f)])

    def to_dict(self) -> dict[str, Any]:
        """Settings and origins, for ``config show --format json``."""
        def entry(s: Setting) -> dict[str, Any]:
            v = list(s.value) if isinstance(s.value, tuple) else s.value
            return {"value": v, "from": s.origin}

        return {"file": self.file, "rules": entry(self.rules), "baseline": entry(self.baseline),
                "format": entry(self.format), "allowlist.paths": entry(self.allow_paths),
                "allowlist.values": entry(self.allow_values)}


# --- parsing ----------------------------------------------------------------------------------


def parse(text: str, name: str, *, pyproject: bool) -> dict[str, Any] | None:
    """The settings table of a config text (None: a pyproject.toml without ``[tool.git-sanitize]``)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{name}: not valid TOML ({exc})") from None
    if pyproject:
        table = data.get("tool", {}).get("git-sanitize")
        if table is None:
            return None
        where = f"{name} [tool.git-sanitize]"
    else:
        table, where = data, name
    if not isinstance(table, dict):
        raise UsageError(f"{where} is not a table")
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(KEYS)}")
    for key in ("rules", "baseline"):
        if key in table and (not isinstance(table[key], str) or not table[key]):
            raise UsageError(f"{where}: {key} must be a file path (a non-empty string)")
    if "format" in table and table["format"] not in FORMATS:
        raise UsageError(f"{where}: format must be one of {', '.join(FORMATS)} (got {str(table['format'])[:40]!r})")
    allow = table.get("allowlist", {})
    if not isinstance(allow, dict):
        raise UsageError(f"{where}: allowlist must be a table with {', '.join(ALLOWLIST_KEYS)}")
    unknown = sorted(set(allow) - set(ALLOWLIST_KEYS))
    if unknown:
        raise UsageError(f"{where}: unknown key(s) allowlist.{', allowlist.'.join(unknown)}; "
                         f"allowed: allowlist.{', allowlist.'.join(ALLOWLIST_KEYS)}")
    for key in ALLOWLIST_KEYS:
        items = allow.get(key, [])
        if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
            raise UsageError(f"{where}: allowlist.{key} must be a list of strings")
    bad = [v for v in allow.get("values", []) if not _SHA256.match(v.lower())]
    if bad:
        raise UsageError(f"{where}: allowlist.values holds {len(bad)} entry(ies) that are not a hex SHA-256 "
                         "(list a finding's secret_sha256, never the value itself)")
    return table


def _settings(table: dict[str, Any], origin: str, resolve: Any, *, in_repo: bool = True) -> ScanConfig:
    allow = table.get("allowlist", {})
    baseline_path = str(PurePosixPath(table["baseline"])) if in_repo and "baseline" in table else None
    return ScanConfig(
        rules=Setting(resolve(table["rules"]), origin) if "rules" in table else Setting(None),
        baseline=Setting(resolve(table["baseline"]), origin) if "baseline" in table else Setting(None),
        format=Setting(table["format"], origin) if "format" in table else Setting(None),
        allow_paths=Setting(tuple(allow["paths"]), origin) if "paths" in allow else Setting(()),
        allow_values=Setting(tuple(v.lower() for v in allow["values"]), origin) if "values" in allow else Setting(()),
        file=origin,
        baseline_path=baseline_path,
    )


# --- discovery --------------------------------------------------------------------------------


@contextmanager
def discover(source: str, config_file: str | None = None) -> Iterator[ScanConfig]:
    """The settings for scanning ``source`` (path or URL); files a bare repository's HEAD names are
    copied to a private temporary directory for the duration of the block."""
    if config_file is not None:
        p = Path(config_file)
        table = parse(read_text(p, "config file"), str(p), pyproject=p.name == PYPROJECT)
        if table is None:
            raise UsageError(f"{p}: no [tool.git-sanitize] table")
        yield _settings(table, str(p), lambda rel: str(p.parent / rel), in_repo=False)
        return
    if git.is_url(source) or not Path(source).exists():
        yield ScanConfig()  # a URL is cloned by the scan; its settings are not read (name them with --config)
        return
    gdir = git.git_dir(Path(source))
    top = git.work_tree_of(source)
    if top is not None:
        yield _from_worktree(top)
        return
    tmp = Path(tempfile.mkdtemp(prefix="git-sanitize-config-"))
    try:
        yield _from_head(gdir, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _pick(found: dict[str, dict[str, Any]], where: str) -> tuple[str, dict[str, Any]] | None:
    if len(found) > 1:
        raise UsageError(f"{where}: both {CONFIG_NAME} and {PYPROJECT} [tool.git-sanitize] hold settings; keep one")
    return next(iter(found.items()), None)


def _from_worktree(top: Path) -> ScanConfig:
    found: dict[str, dict[str, Any]] = {}
    for name in (CONFIG_NAME, PYPROJECT):
        p = top / name
        if p.is_file():
            table = parse(read_text(p, "config file"), str(p), pyproject=name == PYPROJECT)
            if table is not None:
                found[str(p)] = table
    picked = _pick(found, str(top))
    if picked is None:
        return ScanConfig()
    origin, table = picked
    return _settings(table, origin, lambda rel: str(_inside(top, rel, origin)))


def _from_head(gdir: Path, tmp: Path) -> ScanConfig:
    found: dict[str, dict[str, Any]] = {}
    for name in (CONFIG_NAME, PYPROJECT):
        text = _head_text(gdir, name)
        if text is not None:
            table = parse(text, f"HEAD:{name}", pyproject=name == PYPROJECT)
            if table is not None:
                found[f"HEAD:{name}"] = table
    picked = _pick(found, str(gdir))
    if picked is None:
        return ScanConfig()
    origin, table = picked

    def materialise(rel: str) -> str:
        inside = _inside(PurePosixPath("/"), rel, origin)
        text = _head_text(gdir, str(inside).lstrip("/"))
        if text is None:
            raise UsageError(f"{origin}: {rel} is not in HEAD's tree")
        dest = tmp / inside.name
        dest.write_text(text, encoding="utf-8")
        dest.chmod(0o600)
        return str(dest)

    return _settings(table, origin, materialise)


def _inside(root: Path | PurePosixPath, rel: str, origin: str) -> Any:
    """``root/rel``, refusing a path that leaves the repository (a config must not read arbitrary files)."""
    candidate = PurePosixPath(rel)
    if candidate.is_absolute() or ".." in candidate.parts:
        raise UsageError(f"{origin}: {rel!r} must be a path inside the repository (relative, no '..')")
    return root / candidate


def _head_text(gdir: Path, path: str) -> str | None:
    proc = git.run(["cat-file", "blob", f"HEAD:{path}"], cwd=gdir, check=False)
    if proc.returncode != 0:
        return None
    try:
        return proc.stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"HEAD:{path}: not UTF-8 text") from None
