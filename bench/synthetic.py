"""A reproducible synthetic git history made of real source text, with a few planted fake secrets.

The text is the Python standard library found on this machine
(``sysconfig.get_paths()["stdlib"]``): real code with real identifiers, string
literals and docstrings, so scanners meet the kind of text they meet in practice.
The history is written in one ``git fast-import`` stream: files are added,
edited (lines replaced by lines of other stdlib files), renamed and deleted;
feature branches fork from main, most are merged back, tags are cut along
the way. Everything derives from ``seed``: the same seed and the same stdlib give the
same commit ids. Planted secrets are generated from the seed at run time (never stored in
this repository) and most are removed again a few commits later, so only history holds them.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import string
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sanitize.git import git_env
from sanitize.secret import sha256_hex

CACHE = Path(__file__).resolve().parent / ".cache"
FORMAT_VERSION = 1  # bump when the generator changes, so caches rebuild
_ALNUM = string.ascii_letters + string.digits
_B32 = string.ascii_uppercase + "234567"


@dataclass(frozen=True)
class PlantedSecret:
    """One fake secret in the synthetic history. ``value`` is what a scanner should report."""

    name: str          # e.g. "aws-access-key-id"
    value: str         # the secret itself (for a DSN: the password)
    needle: str        # a distinctive substring a peer's report must contain to count as found
    path: str          # the file that held it
    blob_sha256: str   # sha256 of that file's content (what a path rule reports)
    path_rule: bool    # True when the file name alone marks it secret (a private key file)


@dataclass(frozen=True)
class SyntheticRepo:
    """A bare repository and what was planted in it."""

    path: Path
    commits: int
    planted: tuple[PlantedSecret, ...]


def stdlib_sources() -> list[Path]:
    """The stdlib's .py files on this machine, in a stable order (tests and site-packages excluded)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = [p for p in root.rglob("*.py")
             if not {"site-packages", "dist-packages", "test", "tests", "idle_test"} & set(p.relative_to(root).parts)]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _secret_specs(rng: random.Random) -> list[tuple[str, str, str, Callable[[str], str], str]]:
    """(name, value, path, line-maker, needle-kind) for every kind planted; values from the seeded rng.

    Prefixes are assembled from pieces so this file holds no token-shaped literal.
    """
    pem_body = [_rand(rng, _ALNUM + "+/", 64) for _ in range(12)]
    begin, end = "-----BEGIN " + "RSA PRIVATE KEY-----", "-----END " + "RSA PRIVATE KEY-----"
    pem = "\n".join([begin, *pem_body, end])
    return [
        ("aws-access-key-id", "AK" + "IA" + _rand(rng, _B32, 16), "deploy/aws_config.py",
         lambda v: f'AWS_ACCESS_KEY_ID = "{v}"', "value"),
        ("aws-secret-access-key", _rand(rng, _ALNUM + "/+", 40), "deploy/aws_config.py",
         lambda v: f'aws_secret_access_key = "{v}"', "value"),
        ("github-token", "gh" + "p_" + _rand(rng, _ALNUM, 36), "tools/release.py",
         lambda v: f'GITHUB_TOKEN = "{v}"', "value"),
        ("slack-bot-token", "xo" + "xb-" + _rand(rng, string.digits, 12) + "-" + _rand(rng, string.digits, 13)
         + "-" + _rand(rng, _ALNUM, 24), "ops/notify.py", lambda v: f'SLACK_TOKEN = "{v}"', "value"),
        ("stripe-live-key", "sk" + "_live_" + _rand(rng, _ALNUM, 24), "billing/settings.py",
         lambda v: f'STRIPE_API_KEY = "{v}"', "value"),
        ("openai-key", "sk" + "-proj-" + _rand(rng, _ALNUM, 58) + "T3Blbk" + "FJ" + _rand(rng, _ALNUM, 58),
         "ml/client.py", lambda v: f'OPENAI_API_KEY = "{v}"', "value"),
        ("postgres-dsn-password", _rand(rng, _ALNUM, 18), "app/database.py",
         lambda v: f'DATABASE_URL = "postgresql://app_user:{v}@db.internal.example.com:5432/app"', "value"),
        ("jwt-default-secret", _rand(rng, _ALNUM, 28), "server/auth.ts",
         lambda v: f'const jwtSecret = process.env.JWT_SECRET || "{v}";', "value"),
        ("password-assignment", _rand(rng, _ALNUM, 20), "app/settings_local.py",
         lambda v: f'ADMIN_PASSWORD = "{v}"', "value"),
        ("rsa-private-key", pem, "deploy/id_rsa", lambda v: v, "pem"),
    ]


class _Builder:
    """Writes the fast-import stream; keeps each branch's files in memory as bytes."""

    def __init__(self, seed: int, sources: list[Path], emit: bool = True) -> None:
        self.emit = emit
        self.rng = random.Random(seed)
        self.sources = sources
        self.root = Path(sysconfig.get_paths()["stdlib"])
        self._text_cache: dict[int, list[bytes]] = {}
        self.out: list[bytes] = []
        self.mark = 0
        self.commits = 0
        self.time = 1_600_000_000
        self.next_source = 0
        self.order = list(range(len(sources)))
        self.rng.shuffle(self.order)
        self.authors = [("Ada Lovelace", "ada@example.com"), ("Grace Hopper", "grace@example.com"),
                        ("Alan Turing", "alan@example.com"), ("Edsger Dijkstra", "edsger@example.com")]

    # -- text ---------------------------------------------------------------------------------------------
    def lines_of(self, i: int) -> list[bytes]:
        if i not in self._text_cache:
            self._text_cache[i] = self.sources[i].read_bytes().splitlines(keepends=True) or [b"\n"]
        return self._text_cache[i]

    def new_file(self) -> tuple[str, bytes]:
        i = self.order[self.next_source % len(self.order)]
        gen = self.next_source // len(self.order)
        self.next_source += 1
        rel = self.sources[i].relative_to(self.root).as_posix()
        path = f"lib/{rel}" if gen == 0 else f"lib/v{gen}/{rel}"
        return path, b"".join(self.lines_of(i))

    def edit(self, content: bytes) -> bytes:
        lines = content.splitlines(keepends=True) or [b"\n"]
        donor = self.lines_of(self.rng.randrange(len(self.sources)))
        at = self.rng.randrange(len(lines) + 1)
        drop = self.rng.randrange(0, 8)
        start = self.rng.randrange(len(donor))
        take = donor[start:start + self.rng.randrange(1, 30)]
        lines[at:at + drop] = take
        if len(lines) > 4000:  # keep files at a realistic size
            cut = self.rng.randrange(len(lines) - 1000)
            del lines[cut:cut + 1000]
        return b"".join(lines)

    # -- stream -------------------------------------------------------------------------------------------
    def _data(self, payload: bytes) -> None:
        if not self.emit:
            return
        self.out.append(b"data %d\n" % len(payload))
        self.out.append(payload)
        self.out.append(b"\n")

    def commit(self, ref: str, message: str, changes: dict[str, bytes | None], *,
               parent: int | None = None, merge: int | None = None) -> int:
        self.mark += 1
        self.commits += 1
        self.time += self.rng.randrange(300, 7200)
        name, email = self.authors[self.rng.randrange(len(self.authors))]
        self.out.append(f"commit {ref}\nmark :{self.mark}\n".encode())
        self.out.append(f"author {name} <{email}> {self.time} +0000\n".encode())
        self.out.append(f"committer {name} <{email}> {self.time} +0000\n".encode())
        self._data(message.encode())
        if parent is not None:
            self.out.append(f"from :{parent}\n".encode())
        if merge is not None:
            self.out.append(f"merge :{merge}\n".encode())
        for path, content in sorted(changes.items()):
            quoted = json.dumps(path)  # fast-import accepts C-style quoted paths
            if content is None:
                self.out.append(f"D {quoted}\n".encode())
            else:
                self.out.append(f"M 100644 inline {quoted}\n".encode())
                self._data(content)
        return self.mark

    def tag(self, name: str, mark: int, message: str | None) -> None:
        if message is None:
            self.out.append(f"reset refs/tags/{name}\nfrom :{mark}\n\n".encode())
            return
        self.out.append(f"tag {name}\nfrom :{mark}\n".encode())
        self.out.append(f"tagger Release Bot <release@example.com> {self.time} +0000\n".encode())
        self._data(message.encode())


def generate(n_commits: int, seed: int, *, emit: bool = True) -> tuple[bytes, int, tuple[PlantedSecret, ...]]:
    """The fast-import stream, the number of commits and the planted secrets for (n_commits, seed).

    With ``emit=False`` no stream is kept (the random choices are the same): how a cached
    build recovers its planted secrets without ever storing them.
    """
    sources = stdlib_sources()
    if not sources:
        raise RuntimeError("no Python standard library sources found on this machine")
    b = _Builder(seed, sources, emit)
    secret_rng = random.Random(seed ^ 0x5EC2E7)
    specs = _secret_specs(secret_rng)
    # Plant at evenly spread commit numbers; remove most again 5-40 commits later.
    plant_at = [(max(2, (i + 1) * n_commits // (len(specs) + 2)), spec) for i, spec in enumerate(specs)]
    remove_at: dict[int, list[str]] = {}
    planted: list[PlantedSecret] = []

    branches: dict[str, dict[str, bytes]] = {"refs/heads/main": {}}
    tips: dict[str, int] = {}
    feature: str | None = None
    feature_left = 0
    n_feature = 0
    n_main = 0

    while b.commits < n_commits:
        i = b.commits + 1
        if feature is None and n_main > 5 and b.rng.random() < 0.04:
            n_feature += 1
            feature = f"refs/heads/feature/{n_feature:03d}-{b.rng.choice(['cache', 'api', 'docs', 'fix', 'perf'])}"
            branches[feature] = dict(branches["refs/heads/main"])
            tips[feature] = tips["refs/heads/main"]
            feature_left = b.rng.randrange(3, 15)
        ref = feature or "refs/heads/main"
        files = branches[ref]
        changes: dict[str, bytes | None] = {}
        if len(files) < 30 or b.rng.random() < 0.25:
            path, content = b.new_file()
            changes[path] = content
        for _ in range(b.rng.randrange(1, 4)):
            if files:
                path = b.rng.choice(sorted(files)) if len(files) < 64 else list(files)[b.rng.randrange(len(files))]
                changes[path] = b.edit(changes.get(path) or files[path])
        if len(files) > 40 and b.rng.random() < 0.03:
            victim = list(files)[b.rng.randrange(len(files))]
            if victim not in changes:
                if b.rng.random() < 0.5:
                    changes[victim.replace("lib/", "lib/moved/", 1)] = files[victim]  # a rename
                changes[victim] = None
        message = f"Update {next(iter(changes))}\n\nTouches {len(changes)} files.\n"
        if plant_at and plant_at[0][0] <= i:  # a merge may take the planned number: plant at the next one
            name, value, path, line_of, needle_kind = plant_at.pop(0)[1]
            host = b.lines_of(b.rng.randrange(len(sources)))[:40]
            content = b"".join(host) + f"\n{line_of(value)}\n".encode()
            if needle_kind == "pem":
                content = (line_of(value) + "\n").encode()
                needle = value.splitlines()[1]
            else:
                needle = value
            changes[path] = content
            planted.append(PlantedSecret(name=name, value=value, needle=needle, path=path,
                                         blob_sha256=sha256_hex(content), path_rule=needle_kind == "pem"))
            if b.rng.random() < 0.8:
                remove_at.setdefault(i + b.rng.randrange(5, 40), []).append(path)
            message = f"Add {path}\n"
        for path in remove_at.pop(i, []):
            if path in files or path in changes:
                changes[path] = None
                message = f"Remove {path}\n"
        parent = tips.get(ref)
        mark = b.commit(ref, message, changes, parent=parent)
        tips[ref] = mark
        for path, change in changes.items():
            if change is None:
                files.pop(path, None)
            else:
                files[path] = change
        if ref == "refs/heads/main":
            n_main += 1
            if n_main % 100 == 0:
                b.tag(f"v0.{n_main // 100}", mark, "Release\n" if n_main % 400 == 0 else None)
        elif feature is not None:
            feature_left -= 1
            if feature_left <= 0:
                if b.rng.random() < 0.7 and b.commits < n_commits:  # merge back into main
                    main = branches["refs/heads/main"]
                    merged = {p: c for p, c in files.items() if main.get(p) != c}
                    gone = {p: None for p in main if p not in files}
                    m = b.commit("refs/heads/main", f"Merge {feature}\n", {**gone, **merged},
                                 parent=tips["refs/heads/main"], merge=tips[feature])
                    tips["refs/heads/main"] = m
                    branches["refs/heads/main"] = dict(files)
                feature = None
    return b"".join(b.out) + b"done\n", b.commits, tuple(planted)


def build(dest: Path, n_commits: int = 3000, seed: int = 2026) -> SyntheticRepo:
    """Build the synthetic bare repository at ``dest`` (which must not exist yet)."""
    stream, commits, planted = generate(n_commits, seed)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    env = git_env({"GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"})
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(tmp)], check=True, env=env)
    subprocess.run(["git", "fast-import", "--quiet", "--done"], cwd=tmp, input=stream, check=True, env=env)
    subprocess.run(["git", "gc", "-q"], cwd=tmp, check=True, env=env)  # packed, like a real clone
    tmp.rename(dest)
    return SyntheticRepo(path=dest, commits=commits, planted=planted)


def cache_key(n_commits: int, seed: int) -> str:
    """Names a cached build: generator version, Python version, stdlib listing, size, seed."""
    listing = "\n".join(f"{p}:{p.stat().st_size}" for p in stdlib_sources())
    digest = hashlib.sha256(listing.encode()).hexdigest()[:10]
    return f"synthetic-v{FORMAT_VERSION}-py{sys.version_info[0]}{sys.version_info[1]}-{digest}-{n_commits}c-s{seed}"


def cached(n_commits: int = 3000, seed: int = 2026, cache: Path = CACHE) -> SyntheticRepo:
    """The synthetic repository for (n_commits, seed), built once into ``cache`` and reused.

    The cache holds only the repository; the planted secrets are recomputed from the seed.
    """
    dest = cache / f"{cache_key(n_commits, seed)}.git"
    if not dest.is_dir():
        return build(dest, n_commits, seed)
    _, commits, planted = generate(n_commits, seed, emit=False)
    return SyntheticRepo(path=dest, commits=commits, planted=planted)
