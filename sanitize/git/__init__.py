"""The git layer: every git subprocess of the product goes through this package.

``runner`` starts git with the fixed environment; the other modules are the
plumbing the stages share (refs, locations, …). The names below are the
package's interface: stages write ``from sanitize import git`` and
``git.run(...)``.
"""

from sanitize.git.location import is_url, redact_url
from sanitize.git.refs import refs, remote_refs
from sanitize.git.runner import (
    GIT,
    git_dir,
    git_env,
    is_partial,
    is_shallow,
    out,
    popen,
    run,
    work_tree_of,
)

__all__ = [
    "GIT",
    "git_dir",
    "git_env",
    "is_partial",
    "is_shallow",
    "is_url",
    "out",
    "popen",
    "redact_url",
    "refs",
    "remote_refs",
    "run",
    "work_tree_of",
]
