"""The typed artifacts the stages hand each other, and their JSON schemas.

Each artifact is one module with a frozen dataclass, its schema id, a ``load``
that validates (one-line :class:`~sanitize.errors.UsageError`, never a silent
``{}``) and a ``dump``; older documents are upgraded on read by one module per
schema version in :mod:`sanitize.artifacts.upgrades`.

- findings: :mod:`sanitize.scan.report` (``git-sanitize/findings/v2``)
- plan: :mod:`sanitize.purge.plan`, its actions :mod:`sanitize.artifacts.plan_actions`
- rewrite record: :mod:`sanitize.artifacts.rewrite_record` (the rewrite report,
  ``rewrite-report.json``, is :mod:`sanitize.purge.rewrite`'s output for people and pipelines)
- approval: :mod:`sanitize.purge.approval`
- workdir state: :mod:`sanitize.artifacts.state`
- rotation run lines: :mod:`rotation.engine`

The JSON schemas (draft 2020-12) ship in ``schemas/``; :mod:`sanitize.artifacts.schemas`
names them for ``git-sanitize schema NAME``.
"""
