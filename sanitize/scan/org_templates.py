"""More than one machine for ``scan --repos``: a Kubernetes Indexed Job and a GitHub Actions matrix.

Both run the same two commands (:data:`SHARD_SCRIPT`, then ``org merge``): each
shard scans entries ``K, K+N, …`` of the list, with ``K`` from
``JOB_COMPLETION_INDEX`` (Kubernetes sets it for an Indexed Job; the workflow
sets it from the matrix), and the merge correlates the shard files. The
templates live in ``sanitize/templates/org/`` and ship in the wheel; the values
filled in are numbers and an image name checked here, and everything lands in
YAML as JSON strings.
"""

from __future__ import annotations

import shlex
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from sanitize import __version__
from sanitize.errors import UsageError

DEFAULT_IMAGE = f"git-sanitize:{__version__}"  # what the repository's Dockerfile builds
TEMPLATES = {"k8s": "indexed-job.yaml.j2", "github": "github-matrix.yml.j2"}
NAMESPACE = "git-sanitize"
K8S_MERGE = ["git-sanitize", "org", "merge", "/findings/org-scan", "-o", "/findings/org-report"]
GITHUB_MERGE = 'git-sanitize org merge shards/* -o org-report'


def shard_script(jobs: int) -> str:
    """The shell line every shard runs: findings (exit 1) are not a failure of the shard, only of the merge."""
    return ('git-sanitize scan --repos "$REPOS" --shard "$JOB_COMPLETION_INDEX/$SHARDS" '
            f'--jobs {int(jobs)} --out-dir "$OUT" || [ "$?" -eq 1 ]')


def render(kind: str, *, shards: int = 4, jobs: int = 2, image: str | None = None) -> str:
    """The template for ``kind`` (``k8s`` or ``github``); UsageError for a bad kind, count or image."""
    if kind not in TEMPLATES:
        raise UsageError(f"unknown template {kind!r} (choose {', '.join(TEMPLATES)})")
    if not 1 <= shards <= 1000 or not 1 <= jobs <= 64:
        raise UsageError("--shards must be 1 to 1000 and --jobs 1 to 64")
    img = image or DEFAULT_IMAGE
    if not img or any(c.isspace() or not c.isprintable() for c in img):
        raise UsageError("--image must be one word of printable characters")
    script = shard_script(jobs)
    merge_command = shlex.join(K8S_MERGE) if kind == "k8s" else GITHUB_MERGE
    context: dict[str, Any] = {
        "shards": shards, "jobs": jobs, "image": img, "namespace": NAMESPACE,
        "shard_indexes": list(range(shards)), "shard_script": script, "shard_argv": ["/bin/sh", "-c", script],
        "shard_command": script, "merge_argv": K8S_MERGE, "merge_script": GITHUB_MERGE,
        "merge_command": merge_command,
    }
    env = Environment(loader=PackageLoader("sanitize", "templates/org"), undefined=StrictUndefined,
                      autoescape=False, keep_trailing_newline=True)  # noqa: S701 - YAML; values go in as JSON
    return env.get_template(TEMPLATES[kind]).render(**context)
