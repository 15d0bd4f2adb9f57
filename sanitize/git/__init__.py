"""The git layer: every git subprocess of the product goes through this package.

``runner`` starts git with the fixed environment; the other modules are the
plumbing the stages share (refs, locations, …). The names below are the
package's interface: stages write ``from sanitize import git`` and
``git.run(...)``.
"""

from sanitize.git import bundle, graph, log, objects
from sanitize.git.location import CREDENTIALS_ENV, Location, is_url, redact_url, resolve_remote
from sanitize.git.refs import (
    HIDDEN_PREFIXES,
    forge_managed,
    is_bare,
    is_hidden,
    refs,
    remote_head,
    remote_refs,
    set_head,
)
from sanitize.git.runner import (
    GIT,
    finish,
    git_dir,
    git_env,
    is_partial,
    is_shallow,
    lines,
    out,
    popen,
    reason,
    run,
    run_program,
    work_tree_of,
)

__all__ = [
    "CREDENTIALS_ENV",
    "GIT",
    "HIDDEN_PREFIXES",
    "Location",
    "bundle",
    "finish",
    "forge_managed",
    "git_dir",
    "git_env",
    "graph",
    "is_bare",
    "is_hidden",
    "is_partial",
    "is_shallow",
    "is_url",
    "lines",
    "log",
    "objects",
    "out",
    "popen",
    "reason",
    "redact_url",
    "refs",
    "remote_head",
    "remote_refs",
    "resolve_remote",
    "run",
    "run_program",
    "set_head",
    "work_tree_of",
]
