"""The atomic leased push of 50,000 refs: no E2BIG, every lease checked, all or nothing (real git, bare remote)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sanitize.git import Location, leased_push

N_REFS = 50_000


def git(repo: Path, *args: str, input: str | None = None) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], input=input, capture_output=True, text=True,
                          check=True).stdout


def refs(repo: Path) -> dict[str, str]:
    lines = git(repo, "for-each-ref", "--format=%(refname) %(objectname)").splitlines()
    return dict(line.split(" ", 1) for line in lines)


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str, str]:
    """A bare remote with N_REFS branches at an old commit; a mirror where they all point at a rewritten one."""
    tmp = tmp_path_factory.mktemp("leased")
    remote, mirror = tmp / "remote.git", tmp / "mirror.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    env = ["-c", "user.name=A", "-c", "user.email=a@example.com"]
    tree = git(remote, "mktree", input="").strip()
    old = subprocess.run(["git", "-C", str(remote), *env, "commit-tree", tree, "-m", "old"], capture_output=True,
                         text=True, check=True).stdout.strip()
    names = [f"refs/heads/b/{i:05d}" for i in range(N_REFS)]
    git(remote, "update-ref", "--stdin", input="".join(f"create {n} {old}\n" for n in names))
    git(remote, "pack-refs", "--all")
    subprocess.run(["git", "init", "-q", "--bare", str(mirror)], check=True)
    new = subprocess.run(["git", "-C", str(mirror), *env, "commit-tree", git(mirror, "mktree", input="").strip(),
                          "-m", "rewritten"], capture_output=True, text=True, check=True).stdout.strip()
    git(mirror, "update-ref", "--stdin", input="".join(f"create {n} {new}\n" for n in names))
    git(mirror, "pack-refs", "--all")
    return remote, mirror, old, new


def test_a_stale_lease_on_one_of_50000_refs_moves_none(many: tuple[Path, Path, str, str]) -> None:
    remote, mirror, old, new = many
    moved = "refs/heads/b/31337"
    other = subprocess.run(["git", "-C", str(remote), "-c", "user.name=B", "-c", "user.email=b@example.com",
                            "commit-tree", git(remote, "mktree", input="").strip(), "-p", old, "-m", "after scan"],
                           capture_output=True, text=True, check=True).stdout.strip()
    git(remote, "update-ref", moved, other)  # someone pushed after the scan
    updates = [(n, old, new) for n in sorted(refs(mirror))]
    proc = leased_push.push(mirror, Location.parse(str(remote)), updates)
    assert proc.returncode != 0
    assert f"{moved}:{moved}\t[rejected] (stale info)" in proc.stdout.decode()
    after = refs(remote)
    assert after[moved] == other and set(after.values()) == {old, other}  # nothing moved
    assert not (mirror / "refs" / "sanitize-lease").exists() and "git-sanitize-push" not in git(mirror, "config",
                                                                                              "--list")
    git(remote, "update-ref", moved, old)


def test_50000_leased_refs_move_in_one_atomic_push(many: tuple[Path, Path, str, str]) -> None:
    remote, mirror, old, new = many
    updates = [(n, old, new) for n in sorted(refs(mirror))]
    gone = "refs/heads/zz-deleted"
    git(remote, "update-ref", gone, old)
    updates.append((gone, old, None))
    proc = leased_push.push(mirror, Location.parse(str(remote)), updates)
    assert proc.returncode == 0, proc.stderr.decode()[-500:]
    after = refs(remote)
    assert len(after) == N_REFS and set(after.values()) == {new} and gone not in after
    assert str(remote) not in (mirror / "config").read_text()  # the address stayed on the command line
    assert not list((mirror / "refs").glob("sanitize-lease*"))


def test_a_ref_the_plan_expected_absent_but_the_remote_has_rejects_the_push(tmp_path: Path) -> None:
    remote, mirror = tmp_path / "r.git", tmp_path / "m.git"
    for repo in (remote, mirror):
        subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True)
    env = ["-c", "user.name=A", "-c", "user.email=a@example.com"]
    a = subprocess.run(["git", "-C", str(remote), *env, "commit-tree", git(remote, "mktree", input="").strip(), "-m",
                        "theirs"], capture_output=True, text=True, check=True).stdout.strip()
    git(remote, "update-ref", "refs/heads/new;odd#name", a)  # config-special characters in a ref name
    b = subprocess.run(["git", "-C", str(mirror), *env, "commit-tree", git(mirror, "mktree", input="").strip(), "-m",
                        "ours"], capture_output=True, text=True, check=True).stdout.strip()
    git(mirror, "update-ref", "refs/heads/new;odd#name", b)
    proc = leased_push.push(mirror, Location.parse(str(remote)), [("refs/heads/new;odd#name", None, b)])
    assert proc.returncode != 0 and refs(remote) == {"refs/heads/new;odd#name": a}
