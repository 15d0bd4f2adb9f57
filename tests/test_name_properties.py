"""Property tests over hostile names and paths: unicode, spaces, quotes, ``$()``, backticks, newlines,
control characters, leading dashes and very long names, with a planted token inside.

* The two renamings agree: what the rewrite gives a ref on the server (:class:`sanitize.names.Redactor`)
  is what a collaborator's ``migrate`` gives their local copy from the published hashes alone
  (:class:`sanitize.collaborator.local_names.LocalNames`), and neither the shown nor the new name
  holds the token.
* The pipeline: a repository whose branch and path names are hostile and hold the token, in a
  directory whose name is hostile too, goes through scan → plan → rewrite → notify; no output and
  no written file holds the token, and every command the notices print, pasted into bash, runs the
  argv it shows and nothing else (a ``$(touch …)`` or backtick in a name never runs).
* A ref name git refuses (planted in ``packed-refs``, as a hostile repository can) is bad input:
  exit 2, one line, without the name.
"""

from __future__ import annotations

import json
import os
import random
import re
import shlex
import stat
import string
import subprocess
import tempfile
import unicodedata
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, assume, example, given, settings
from hypothesis import strategies as st

from sanitize.cli import cli
from sanitize.collaborator.local_names import LocalNames, NameValue
from sanitize.git import redact_url
from sanitize.names import Redactor, is_shown, renamed, shown
from sanitize.secret import Secret
from sanitize.shellquote import quote

SPECIALS = [" ", "'", '"', "$(touch PWNED)", "$(touch${IFS}PWNED)", "`touch PWNED`", "\n", "\t", "\r", "\x01",
            "\x1b[31m", "\x7f", "-", "--", "-rf", ";", "&&", "|", "*", "?", "[", "]", "{", "}", "~", "^", ":",
            "\\", "..", "@{", "#", "!", "%", ">", "<", "é", "日本", "🙂", "\u202e", "\u200b", "=", "x" * 120]
PIECE = st.one_of(st.sampled_from(SPECIALS),
                  st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
                          min_size=1, max_size=4))
HOSTILE = st.lists(PIECE, min_size=1, max_size=6).map("".join)
SECRET_FILES = {"plan.secrets", "backup.bundle"}
IDENT = {"GIT_AUTHOR_NAME": "Ana Ops", "GIT_AUTHOR_EMAIL": "ana@aurora.test", "GIT_COMMITTER_NAME": "Ana Ops",
         "GIT_COMMITTER_EMAIL": "ana@aurora.test", "GIT_AUTHOR_DATE": "1700000000 +0000",
         "GIT_COMMITTER_DATE": "1700000000 +0000"}


def _token(seed: int) -> str:
    rng = random.Random(seed)
    return "ghp_" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(36))


@given(before=HOSTILE, after=HOSTILE, seed=st.integers(0, 2**32))
@settings(max_examples=150, deadline=None)
def test_server_and_collaborator_renamings_agree_and_never_hold_the_token(before: str, after: str, seed: int) -> None:
    token = _token(seed)
    value = Secret(token)
    name = f"refs/heads/{before}/{token}/{after}-{token}"
    red = Redactor([value])
    local = LocalNames(NameValue.load(d) for d in red.published())
    assert red.published() == [{"secret_sha256": value.sha256, "length": len(token), "new": renamed(value.sha256)}]
    new = red.rename(name.encode("utf-8")).decode("utf-8")
    assert local.rename(name) == new and token not in new
    assert local.show(name) == red.show(name) and token not in red.show(name) and is_shown(red.show(name))
    assert red.show(name).count(shown(value.sha256)) == 2
    assert red.reveal(red.show(name)) == name
    assert local.holds(name) and not local.holds(new)


@given(HOSTILE)
@example("a\udc80b\n")  # a byte that was not UTF-8 in a name, read with surrogateescape
@settings(max_examples=60, deadline=None)
def test_a_quoted_hostile_word_reaches_bash_as_one_unchanged_argument_on_one_line(word: str) -> None:
    quoted = quote(word)
    assert "\n" not in quoted and "\r" not in quoted and quoted.isprintable()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(["bash", "-c", f"printf '%s\\0' {quoted}"], cwd=tmp, capture_output=True)
        assert proc.stdout == word.encode("utf-8", "surrogateescape") + b"\0"
        assert not (Path(tmp) / "PWNED").exists()


def _git(cwd: Path, *args: str, input: bytes | None = None, env: dict[str, str] | None = None,
         check: bool = True) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, check=check,
                          env={**os.environ, **IDENT, **(env or {})})


def _fs_name(text: str) -> str:
    """A file-system-safe directory name still full of hostile characters."""
    name = text.replace("/", "_").replace("\0", "_").encode("utf-8")[:180].decode("utf-8", "ignore")
    return f"src {name}" if name not in ("", ".", "..") else "src"


def _repository(base: Path, token: str, ref: str, path: str, dirname: str) -> Path:
    """A bare repository: a main branch, ``ref`` (in packed-refs, so any name git accepts fits) and a
    commit holding ``path``; built with plumbing, so no file system rule limits the path."""
    repo = base / _fs_name(dirname) / "origin.git"
    repo.parent.mkdir(parents=True)
    _git(base, "init", "-q", "--bare", "-b", "main", str(repo))
    blob = _git(repo, "hash-object", "-w", "--stdin", input=b"hello\n").stdout.decode().strip()
    index = {"GIT_INDEX_FILE": str(base / "index")}
    entries = f"100644 {blob}\tREADME.md\x00100644 {blob}\t{path}\x00".encode()
    added = _git(repo, "update-index", "-z", "--add", "--index-info", input=entries, env=index, check=False)
    assume(added.returncode == 0)  # a path git itself refuses (".git", "..") is not a name anyone can push
    tree = _git(repo, "write-tree", env=index).stdout.decode().strip()
    commit = _git(repo, "commit-tree", tree, "-m", "init", env=index).stdout.decode().strip()
    with (repo / "packed-refs").open("ab") as out:
        out.write(f"{commit} refs/heads/main\n{commit} {ref}\n".encode())
    return repo


def _shims(base: Path) -> Path:
    """``git`` and ``git-sanitize`` that only record their arguments (NUL-separated) in $ARGV_LOG."""
    bin_dir = base / "shims"
    bin_dir.mkdir()
    for name in ("git", "git-sanitize"):
        shim = bin_dir / name
        shim.write_text('#!/bin/sh\nprintf \'%s\\0\' "$(basename "$0")" "$@" >> "$ARGV_LOG"\n')
        shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def _notice_commands(notices: Path) -> list[str]:
    lines: list[str] = []
    for md in sorted(notices.glob("*.md")):
        for block in re.findall(r"```sh\n(.*?)```", md.read_text(), re.S):
            lines += [line for line in block.splitlines() if line.strip()]
    return lines


def _paste(lines: list[str], base: Path, source: str) -> None:
    """Run each line in bash as a collaborator would; a simple command must run exactly the words it shows,
    and the clone command must clone exactly ``source``."""
    home, scratch, log = base / "home", base / "paste", base / "argv.log"
    home.mkdir()
    scratch.mkdir()
    env = {"PATH": f"{_shims(base)}:/usr/bin:/bin", "HOME": str(home), "ARGV_LOG": str(log), "LC_ALL": "C.UTF-8"}
    for line in lines:
        log.write_bytes(b"")
        proc = subprocess.run(["bash", "-c", line], cwd=scratch, env=env, capture_output=True,
                              stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, (line, proc.stderr)
        ran = log.read_bytes().split(b"\0")[:-1]
        if line.startswith("git clone "):
            assert ran == [b"git", b"clone", source.encode("utf-8", "surrogateescape"), b"origin-clean"], line
        elif line.split()[0] in ("git", "git-sanitize") and not re.search(r"&&|\|\||2>|\$\(|`|\$'", line):
            words = [w.replace("$HOME", str(home)) for w in shlex.split(line)]
            assert ran == [w.encode() for w in words], line
        assert "\n" not in line and "\r" not in line
    planted = [p for p in base.rglob("PWNED")]
    assert not planted, f"a pasted notice command ran code from a name: {planted}"


def _invoke(args: list[str], expect: int, seen: list[str]) -> None:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    seen.append(result.output + (result.stderr if result.stderr_bytes is not None else ""))
    assert result.exit_code == expect, (args[0], result.exit_code, result.output[-2000:])


REF_PART = HOSTILE.filter(lambda s: all(len(c.encode()) < 150 for c in s.split("/")))


@given(ref_part=REF_PART, path_part=HOSTILE, dirname=HOSTILE, seed=st.integers(0, 2**32))
# Found by this test: a newline in the source's path broke git-filter-repo's config parse, and made the
# refusal of a bad ref name two lines.
@example(ref_part="'", path_part=" ", dirname="\n", seed=0)
@example(ref_part=" ", path_part=" ", dirname="\n", seed=0)
@example(ref_part="x", path_part="\x01d", dirname="x", seed=0)  # the log's commit marker byte in a path
@example(ref_part="-rf/$(touch${IFS}PWNED)/`touch PWNED`", path_part="-n/$(touch PWNED)\n\x01 '\"",
         dirname="$(touch PWNED)'\"` -x", seed=1)
# Found by this test: a ref name holding U+0085 (str.splitlines breaks on it) was misread by the ref parsers.
@example(ref_part="\x85\xc8\U000ab991", path_part="--%\x1b%\t[", dirname="'-rf<", seed=0)
@example(ref_part="a\u2028b\u2029c\x1cd", path_part="x", dirname="y", seed=0)
# A pipeline run takes seconds: few examples, and no shrinking (a failure is printed as found).
@settings(max_examples=6, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_hostile_names_go_through_the_pipeline_and_every_printed_command_is_safe(
        ref_part: str, path_part: str, dirname: str, seed: int) -> None:
    token = _token(seed)
    ref = f"refs/heads/{ref_part}/{token}"
    comps = [c for c in path_part.split("/") if c not in ("", ".", "..")] or ["d"]
    path = "/".join([*comps, f"{token}.txt"])
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        valid = subprocess.run(["git", "check-ref-format", ref], capture_output=True).returncode == 0
        src = _repository(base, token, ref, path, dirname)
        seen: list[str] = []
        findings, plan, wd = base / "findings.json", base / "plan.json", base / "wd"
        if not valid:
            # A name git refuses: git skips the ref, so its history could be neither scanned nor purged.
            result = CliRunner().invoke(cli, ["scan", str(src), "-o", str(findings), "--jobs", "1"])
            assert result.exit_code == 2, result.output
            err = (result.stderr or result.output).strip()
            assert len(err.splitlines()) == 1 and "git refuses" in err and token not in err
            return
        _invoke(["scan", str(src), "--format", "json", "-o", str(findings), "--jobs", "1"], 1, seen)
        text = findings.read_text()
        assert '"kind":"ref-name"' in text.replace(" ", "") and '"kind":"path-name"' in text.replace(" ", "")
        _invoke(["plan", str(findings), "-o", str(plan)], 0, seen)
        _invoke(["rewrite", str(plan), "--workdir", str(wd)], 0, seen)
        _invoke(["notify", "--workdir", str(wd), "--deadline", "2026-12-24"], 0, seen)
        _invoke(["status", "--workdir", str(wd)], 0, seen)

        for out in seen:
            assert token not in out
        for f in base.rglob("*"):
            rel = f.relative_to(base).parts
            if "origin.git" in rel or "objects" in rel or f.name in SECRET_FILES or f.name == "index":
                continue
            assert token not in str(f.relative_to(base))
            if f.is_file():
                assert token.encode() not in f.read_bytes(), f
        mirror_refs = _git(wd / "mirror.git", "for-each-ref", "--format=%(refname)").stdout.decode()
        assert token not in mirror_refs and "redacted-" in mirror_refs
        listing = _git(wd / "mirror.git", "ls-tree", "-r", "-z", "--name-only", "main").stdout
        assert token.encode() not in listing
        _paste(_notice_commands(wd / "notices"), base, redact_url(str(src)))


def test_a_secret_file_under_a_path_holding_the_log_marker_byte_is_purged(tmp_path: Path) -> None:
    """The raw log marks each commit with \\x01; a path may hold that byte too (found by the test above), or
    be spelled exactly like a commit's header."""
    rng = random.Random(77)
    key = "AKIA" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))
    src = tmp_path / "src"
    _git(tmp_path, "init", "-q", "-b", "main", str(src))
    env_dir = src / "a\x01b"
    env_dir.mkdir()
    (src / "README.md").write_text("# app\n")
    _git(src, "add", "-A")
    _git(src, "commit", "-q", "-m", "init")
    (env_dir / "settings.ini").write_text(f"[aws]\naws_access_key_id = {key}\n")
    # A path spelled exactly like a log header naming a real commit (the marker byte and the first id).
    forged = "\x01" + _git(src, "rev-parse", "HEAD").stdout.decode().strip()
    (src / forged).write_text(f"aws_access_key_id = {key}\n")
    (env_dir / ".env").write_text(f"MODE=prod-{rng.random()}\n")  # deleted by path: found only by its path
    (src / "README.md").write_text("# app 2\n")
    _git(src, "add", "-A")
    _git(src, "commit", "-q", "-m", "two")
    (src / "README.md").write_text("# app 3\n")
    _git(src, "commit", "-q", "-am", "three")
    seen: list[str] = []
    _invoke(["scan", str(src), "-o", str(tmp_path / "f.json"), "--jobs", "1"], 1, seen)
    two = _git(src, "rev-parse", "HEAD~1").stdout.decode().strip()
    found = json.loads((tmp_path / "f.json").read_text())["findings"]
    assert found and all(f["commit"] == two for f in found), [(f["path"], f["commit"]) for f in found]
    _invoke(["plan", str(tmp_path / "f.json"), "-o", str(tmp_path / "p.json")], 0, seen)
    _invoke(["rewrite", str(tmp_path / "p.json"), "--workdir", str(tmp_path / "wd")], 0, seen)
    objects = _git(tmp_path / "wd" / "mirror.git", "cat-file", "--batch-all-objects", "--batch").stdout
    assert key.encode() not in objects and not any(key in out for out in seen)
    tree = _git(tmp_path / "wd" / "mirror.git", "ls-tree", "-r", "-z", "--name-only", "main").stdout.split(b"\0")
    assert b"a\x01b/settings.ini" in tree and b"a\x01b/.env" not in tree and forged.encode() in tree
    assert {f["path"] for f in found} >= {"a\x01b/settings.ini", forged}


@given(before=REF_PART, seed=st.integers(0, 2**32))
@example(before="\xa0\u2028", seed=0)
@settings(max_examples=60, deadline=None)
def test_the_remote_head_steps_print_a_pasteable_new_name_and_never_the_token(before: str, seed: int) -> None:
    from sanitize.git import Location
    from sanitize.purge.remote_head import HeadMove
    from sanitize.purge.verify import _head_step

    token = _token(seed)
    red = Redactor([Secret(token)])
    old = f"refs/heads/{before}/{token}"
    new = red.rename(old.encode("utf-8")).decode("utf-8")
    move = HeadMove(Location("git://127.0.0.1/x.git"), old, new, red.show(old), ours=False)
    for step in (move.operator_step(), _head_step(old, red)):
        assert step is not None and token not in step
        assert not any(unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in ("Zl", "Zp") for ch in step)
        assert f"git symbolic-ref HEAD {quote(new)} in the repository" in step
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(["bash", "-c", f"printf '%s' {quote(new)}"], cwd=tmp, capture_output=True)
        assert proc.stdout == new.encode() and not (Path(tmp) / "PWNED").exists()


def test_a_packed_refs_line_git_cannot_read_is_one_line_without_git_s_message(tmp_path: Path) -> None:
    """git fails ("unexpected line in ./packed-refs: <the line>") and quotes the line: that line may be the token."""
    token = "ghp_" + "".join(random.Random(77).choice(string.ascii_letters + string.digits) for _ in range(36))
    repo = tmp_path / "repo.git"
    subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True)
    (repo / "packed-refs").write_text(f"# pack-refs with: peeled fully-peeled sorted \n/{token}\n")
    result = CliRunner().invoke(cli, ["scan", str(repo), "-o", str(tmp_path / "f.json")])
    err = (result.stderr or result.output).strip()
    assert result.exit_code == 2, result.output
    assert len(err.splitlines()) == 1 and "git refuses" in err and token not in err
