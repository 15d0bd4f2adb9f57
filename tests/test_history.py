"""History.changes_per_tip against a plain per-ref walk, on random commit graphs."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sanitize.purge.plan import History


def _naive(history: History, tip: str, changed: set[str]) -> tuple[int, str | None]:
    seen: set[str] = set()
    stack = [tip] if tip in changed else []
    while stack:
        c = stack.pop()
        if c not in seen:
            seen.add(c)
            stack.extend(p for p in history.parents[c] if p in changed)
    first = next((c for c in history.order if c in seen), None)
    return len(seen), first


@st.composite
def graphs(draw: st.DrawFn) -> tuple[History, set[str], dict[str, str]]:
    n = draw(st.integers(min_value=1, max_value=40))
    order = [f"c{i}" for i in range(n)]
    parents = {}
    for i, c in enumerate(order):
        k = draw(st.integers(min_value=0, max_value=min(2, i)))
        parents[c] = tuple(draw(st.lists(st.sampled_from(order[:i]), min_size=k, max_size=k, unique=True))) if i else ()
    history = History(order, parents)
    seeds = set(draw(st.lists(st.sampled_from(order), max_size=4)))
    changed = history.descendants_closure(seeds)
    tips = {f"refs/heads/r{j}": draw(st.sampled_from([*order, ""])) for j in range(draw(st.integers(0, 8)))}
    return history, changed, tips


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_counts_and_first_changed_match_a_per_ref_walk(case: tuple[History, set[str], dict[str, str]]) -> None:
    history, changed, tips = case
    got = history.changes_per_tip(tips, changed)
    assert got == {ref: (_naive(history, tip, changed) if tip else (0, None)) for ref, tip in tips.items()}
