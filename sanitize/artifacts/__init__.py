"""The typed artifacts the stages hand each other, and their JSON schemas.

Each artifact is one module with a frozen dataclass, its schema id, a ``load``
that validates (one-line :class:`~sanitize.errors.UsageError`, never a silent
``{}``) and a ``dump``; older documents are upgraded on read by one module per
schema version in :mod:`sanitize.artifacts.upgrades`.

- findings: :mod:`sanitize.scan.report` (``git-sanitize/findings/v2``)
- plan: :mod:`sanitize.purge.plan`; its actions :mod:`sanitize.artifacts.plan_actions`, its summary
  :mod:`sanitize.artifacts.plan_summary`, its review sections (held back, dropped, fail closed)
  :mod:`sanitize.artifacts.plan_review`
- the blast-radius numbers plan, record, report, approve and status state: :mod:`sanitize.artifacts.blast_numbers`
- rewrite record: :mod:`sanitize.artifacts.rewrite_record`
- rewrite report (``rewrite-report.json``, for people and pipelines): :mod:`sanitize.artifacts.rewrite_report`
- approval: :mod:`sanitize.purge.approval`
- workdir state: :mod:`sanitize.artifacts.state`
- rotation run lines: :mod:`rotation.summary` (the steps: :class:`rotation.protocol.StepOutcome`)

The JSON schemas (draft 2020-12) ship in ``schemas/``; :mod:`sanitize.artifacts.schemas`
names them for ``git-sanitize schema NAME``. :mod:`sanitize.artifacts.fields` reads one JSON field
and names it in the error.
"""
