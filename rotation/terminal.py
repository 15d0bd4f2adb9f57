"""What ``rotate`` shows a person at a terminal: one row per credential and where it stands.

In a pipe ``rotate`` prints JSON lines (the documented log); on a terminal the
same run ends in this table instead. It carries names, states and reasons,
never a value.
"""

from __future__ import annotations

from rotation.states import PROVEN_DEAD, REVOKED, STILL_LIVE, UNPROVEN
from rotation.summary import RotationSummary, SecretOutcome

#: How each state reads in the table: the words a person acts on.
STATE_WORDS = {PROVEN_DEAD: "rotated, proven dead", REVOKED: "revoked", UNPROVEN: "rotated, not provable",
               STILL_LIVE: "STILL LIVE"}


def _note(o: SecretOutcome) -> str:
    """The one thing to know about this row: the proof, why not provable, the action, or the reason (and why a
    ``--revoke`` attempt did not make it revoked, before its action)."""
    if o.state == STILL_LIVE and o.revocation is not None:
        return " ".join(f"{o.reason}; {o.action}".split())
    return " ".join((o.action if o.state == STILL_LIVE else o.proof or o.why or o.reason).split())


def _result(o: SecretOutcome) -> str:
    """The state in words, else what the run did (not due, skipped, would rotate, ...)."""
    if o.status == "failed":
        return "FAILED, rolled back"
    return STATE_WORDS.get(o.state or "", o.status)


def _clean(text: str) -> str:
    """Names come from a config or a scan: no control characters reach the terminal."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def step_line(record: dict[str, object]) -> str:
    """One engine log record as a progress line (``--verbose`` on a terminal)."""
    extra = f" ({record['error']})" if record.get("error") else ""
    return _clean(f"  {record.get('secret')}: {record.get('step')} {record.get('status')}{extra}")


def render(summary: RotationSummary, ack_command: str) -> str:
    """A header, one aligned row per credential, and the next step while anything is still live.

    ``ack_command`` is the shell-quoted ``rotate --ack`` prefix for this config (NAME is appended).
    """
    dry = " (dry run)" if summary.dry_run else ""
    lines = [f"{summary.mode} rotation on {_clean(summary.backend)}{dry}: {len(summary.outcomes)} credential(s)"]
    rows = [(_clean(o.name), _clean(o.kind or ""), _result(o), _clean(_note(o))) for o in summary.outcomes]
    if not rows:
        return lines[0] + "; nothing to do\n"
    head = ("credential", "kind", "result", "proof / why / action")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(3)]
    for row in [head, *rows]:
        lines.append("  " + "  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)) + "  " + row[3])
    live = summary.still_live
    if live:
        lines += ["", f"{len(live)} exposed credential(s) still live: do each action above, then "
                  f"{ack_command} NAME"]
    elif summary.failed:
        lines += ["", f"{len(summary.failed)} rotation(s) failed and were rolled back; see the audit log"]
    return "\n".join(lines) + "\n"
