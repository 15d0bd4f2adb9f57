"""What the scan's workers collect while reading equals what the separate walks it replaced find.

The workers read every reachable tree and commit anyway; the tree entry names, the identities
and the commit graph they collect on the way must be exactly what the names scan's own tree
walk and ``git log``, and ``rev-list --parents``, give — on a real repository with branches,
a merge, a file renamed without changing its content, an annotated tag and a commit in
another encoding. The reader, the spooled log and the ref-set encodings are checked against
the plain ways too.
"""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sanitize import git
from sanitize.scan import engine, history, names
from sanitize.scan.report import _runs, decode_ref_set, encode_ref_set


def _git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    who = {"GIT_AUTHOR_NAME": "Ann", "GIT_AUTHOR_EMAIL": "ann@example.org", "GIT_COMMITTER_NAME": "Cy",
           "GIT_COMMITTER_EMAIL": "cy@example.org"}
    full = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo.parent), **who, **(env or {})}
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=full).stdout.decode()


def _commit(repo: Path, files: dict[str, str], message: str, who: tuple[str, str] = ("Ann", "ann@example.org"),
            *, encoding: str | None = None) -> None:
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    _git(repo, "add", "-A")
    env = {"GIT_AUTHOR_NAME": who[0], "GIT_AUTHOR_EMAIL": who[1], "GIT_COMMITTER_NAME": "Cy",
           "GIT_COMMITTER_EMAIL": "cy@example.org"}
    args = ["-c", f"i18n.commitEncoding={encoding}"] if encoding else []
    _git(repo, *args, "commit", "-q", "-m", message, env=env)


@pytest.fixture
def branchy_repo(tmp_path: Path) -> Path:
    rng = random.Random(16)
    repo = tmp_path / "work"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _commit(repo, {"src/app.py": "print(1)\n", "README": "hello\n"}, "first")
    _git(repo, "checkout", "-q", "-b", "side")
    token_dir = "cfg-" + "".join(rng.choice("abcdef0123456789") for _ in range(12))
    _commit(repo, {f"{token_dir}/settings.ini": "x = 1\n"}, "side work", ("Bo", "bo@example.org"))
    # The same blob under a new name only: a walk listing each object once never prints this name.
    (repo / "README").rename(repo / "READ-ME-TOO")
    _commit(repo, {}, "rename only", ("Dé Ñame", "dn@example.org"), encoding="ISO-8859-1")
    _git(repo, "checkout", "-q", "main")
    _commit(repo, {"src/app.py": "print(2)\n"}, "main work", ("Eve", "eve@example.org"))
    _git(repo, "merge", "-q", "--no-ff", "-m", "merge side", "side",
         env={"GIT_COMMITTER_NAME": "Mo", "GIT_COMMITTER_EMAIL": "mo@example.org"})
    _git(repo, "tag", "-a", "v1", "-m", "release", env={"GIT_COMMITTER_NAME": "Tag Ger",
                                                        "GIT_COMMITTER_EMAIL": "tg@example.org"})
    _git(repo, "branch", "old", "HEAD~1")
    return repo


def _collected(repo: Path, jobs: int) -> engine._ChunkResult:
    gdir = git.git_dir(repo)
    refs = history.list_refs(gdir)
    chunks = history.iter_inventory(gdir, refs, history.Inventory(), 3, trees=True)
    return engine._read_all(gdir, chunks, engine.compiled_detector(None), jobs, False, collect=True)


@pytest.mark.parametrize("jobs", [1, 2])
def test_workers_collect_the_names_identities_and_graph_the_walks_find(branchy_repo: Path, jobs: int) -> None:
    gdir = git.git_dir(branchy_repo)
    refs = history.list_refs(gdir)
    result = _collected(branchy_repo, jobs)

    walked = names._entry_names(gdir, history.ALL_REFS, walk=True)
    assert {n.decode("utf-8", "surrogateescape") for n in result.names} == walked
    assert "READ-ME-TOO" in walked and any(n.startswith("cfg-") for n in walked)

    known = names.NameSources(set(), result.people, result.taggers)
    logged = names._identities(gdir, refs, history.ALL_REFS)
    assert names._known_people(refs, known) == logged  # same people, same first commit or tag each
    # The latin-1 commit's name was UTF-8 bytes: git log re-encodes them, and so must the workers.
    assert "dn@example.org" in logged and "Dé Ñame" not in logged and "Tag Ger" in logged

    graph = git.graph.CommitGraph.walk(gdir, sorted(r.commit for r in refs if r.commit))
    assert result.parents == graph.parents
    targets = set(graph.order)
    assert history.refs_reaching(gdir, refs, targets, parents=result.parents) == \
        history.refs_reaching(gdir, refs, targets)


def test_the_batch_reader_answers_batch_after_batch_from_one_process(branchy_repo: Path) -> None:
    gdir = git.git_dir(branchy_repo)
    ids = _git(gdir, "rev-list", "--objects", "--all").split()
    ids = [i for i in ids if len(i) == 40]
    missing = "0" * 40
    reader = git.objects.BatchReader(gdir)
    try:
        first = list(reader.read([*ids[:4], missing]))
        rest = list(reader.read(ids[4:]))
    finally:
        reader.close()
    assert first + rest == list(git.objects.read(gdir, ids))
    assert len(first) == 4  # the missing id is left out, and the next batch still lines up


def test_the_spooled_log_is_the_piped_one(branchy_repo: Path) -> None:
    gdir = git.git_dir(branchy_repo)
    spool = history.locate_spool(gdir)
    try:
        spool.start()
        spooled = b"".join(spool.blocks())
    finally:
        spool.close()
    assert spooled == b"".join(git.log.raw_blocks(gdir, history.LOCATE_OPTIONS, history.ALL_REFS))
    blob = _git(gdir, "rev-parse", "main:src/app.py").strip()
    again = history.locate_spool(gdir)
    try:
        assert history.resolve_blobs(gdir, {blob}, spool=again) == history.resolve_blobs(gdir, {blob})
    finally:
        again.close()


@st.composite
def graphs(draw: st.DrawFn) -> tuple[dict[str, tuple[str, ...]], list[history.RefInfo], set[str]]:
    n = draw(st.integers(min_value=1, max_value=30))
    order = [f"{i:040x}" for i in range(n)]
    parents: dict[str, tuple[str, ...]] = {}
    for i, c in enumerate(order):
        k = draw(st.integers(min_value=0, max_value=min(2, i)))
        parents[c] = tuple(draw(st.lists(st.sampled_from(order[:i]), min_size=k, max_size=k, unique=True))) if i else ()
    shuffled = draw(st.permutations(order))  # the workers' chunks come back in walk order, not topological
    refs = [history.RefInfo(f"refs/heads/r{j}", tip, tip) for j, tip in
            enumerate(draw(st.lists(st.sampled_from(order), max_size=8)))]
    targets = set(draw(st.lists(st.sampled_from(order), max_size=6)))
    return {c: parents[c] for c in shuffled}, refs, targets


@settings(max_examples=200, deadline=None)
@given(graphs())
def test_ref_sets_from_collected_parents_match_a_per_ref_walk(
        case: tuple[dict[str, tuple[str, ...]], list[history.RefInfo], set[str]]) -> None:
    parents, refs, targets = case
    got = history.refs_reaching(Path("."), refs, targets, parents=parents)
    for target in targets:
        reached = []
        for ref in refs:
            seen, stack = set(), [ref.target]
            while stack:
                c = stack.pop()
                if c not in seen:
                    seen.add(c)
                    stack.extend(parents[c])
            if target in seen:
                reached.append(ref.name)
        assert got[target] == tuple(sorted(set(reached)))


def _runs_by_hand(indices: list[int]) -> list[int | list[int]]:
    out: list[int | list[int]] = []
    i = 0
    while i < len(indices):
        j = i
        while j + 1 < len(indices) and indices[j + 1] == indices[j] + 1:
            j += 1
        out.extend([[indices[i], indices[j]]] if j - i >= 2 else indices[i:j + 1])
        i = j + 1
    return out


@settings(max_examples=300, deadline=None)
@given(st.sets(st.integers(min_value=0, max_value=59)))
def test_ref_set_runs_round_trip(positions: set[int]) -> None:
    indices = sorted(positions)
    assert _runs(indices) == _runs_by_hand(indices)
    assert decode_ref_set(encode_ref_set(indices, 60), 60) == indices
