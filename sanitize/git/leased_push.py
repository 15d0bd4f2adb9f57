"""One atomic push of any number of refs, each leased to the tip seen at scan.

``git push --force-with-lease=REF:OLD REF:REF`` costs two arguments per ref:
past about 20,000 refs ``execve`` refuses the command line (E2BIG, at most
6 MiB of arguments on Linux), and git matches explicit refspecs against every
ref, so even 2,000 of them take half a minute. Here:

* the refspecs are one glob, ``refs/*:refs/*``, with a negative refspec for
  each ref of the mirror the push must leave alone (host-managed namespaces as
  one pattern each) and an explicit ``:REF`` per deletion, as a throw-away
  remote's ``push`` lines in the mirror's config;
* each lease is that remote's tracking ref under ``refs/sanitize-lease/``, so a
  bare ``--force-with-lease`` checks every ref against its tip at scan: a ref
  that moved, or one that appeared where none was expected, rejects the whole
  ``--atomic`` push.

The leases are written into ``packed-refs`` directly, not with ``update-ref``:
they hold the tips at scan, whose commits the rewritten mirror no longer has
(and must not have), and ``update-ref`` refuses a ref to a missing object;
``push`` only compares ids. The remote's address is given on the command line
(``-c remote.NAME.url=…``, without its user info, which goes by credential
helper) and never written to disk. The mirror is the
purge's own, under the workdir's lock.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from sanitize.errors import UsageError
from sanitize.git.location import Location
from sanitize.git.refs import refs
from sanitize.git.runner import run

REMOTE = "git-sanitize-push"
LEASES = "refs/sanitize-lease/"
#: Namespaces excluded as one negative pattern each when the mirror has refs there.
NAMESPACES = ("refs/pull/", "refs/merge-requests/", "refs/keep-around/")
_OID = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
_HEADER = "# pack-refs with: peeled fully-peeled sorted \n"

Update = tuple[str, str | None, str | None]  # (ref, tip at scan or None, new tip or None to delete)


def _quoted(value: str) -> str:
    """A git config value, quoted (ref names may hold ``;``, ``#`` or ``"``)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _packed_entries(mirror: Path) -> list[list[str]]:
    """``packed-refs`` as entries: a ``<oid> <ref>`` line and its optional ``^<peeled>`` line."""
    path = mirror / "packed-refs"
    if not path.is_file():
        return []
    entries: list[list[str]] = []
    for raw in path.read_bytes().splitlines(keepends=True):  # bytes split on \n and \r only, which a ref cannot hold
        line = raw.decode("utf-8", "surrogateescape")
        if line.startswith("#"):
            continue
        if line.startswith("^") and entries:
            entries[-1].append(line)
        elif line.strip():
            entries.append([line])
    return entries


def _write_packed(mirror: Path, entries: list[list[str]]) -> None:
    """Replace ``packed-refs`` atomically (sorted by ref name, as its header promises)."""
    entries.sort(key=lambda e: e[0].split(" ", 1)[1].rstrip("\n").encode("utf-8", "surrogateescape"))
    tmp = mirror / "packed-refs.git-sanitize-tmp"
    with tmp.open("w", encoding="utf-8", errors="surrogateescape") as out:
        out.write(_HEADER)
        for entry in entries:
            out.writelines(entry)
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(mirror / "packed-refs")


def _is_lease(entry: list[str]) -> bool:
    return entry[0].split(" ", 1)[1].startswith(LEASES)


def clear(mirror: Path) -> None:
    """Remove the throw-away remote and every lease ref (left by an interrupted push, or after one)."""
    run(["config", "--remove-section", f"remote.{REMOTE}"], cwd=mirror, check=False)
    entries = _packed_entries(mirror)
    if any(_is_lease(e) for e in entries):
        _write_packed(mirror, [e for e in entries if not _is_lease(e)])
    shutil.rmtree(mirror / LEASES, ignore_errors=True)  # push writes the tracking refs it updated as loose files


def _refspecs(mirror: Path, updates: Sequence[Update]) -> list[str]:
    """The glob, a negative refspec per mirror ref left alone, and ``:REF`` per deletion."""
    mirror_refs = refs(mirror)
    pushed = {ref: new for ref, _old, new in updates if new is not None}
    if any(mirror_refs.get(ref) != new for ref, new in pushed.items()):
        raise UsageError("the mirror's refs are not the rewritten tips the push was approved for; run rewrite again")
    left = sorted(set(mirror_refs) - set(pushed))
    negative = [f"^{LEASES}*", *(f"^{ns}*" for ns in NAMESPACES if any(r.startswith(ns) for r in left))]
    negative += [f"^{r}" for r in left if not r.startswith(NAMESPACES)]
    return ["refs/*:refs/*", *negative, *(f":{ref}" for ref, _old, new in updates if new is None)]


def push(mirror: Path, target: Location, updates: Sequence[Update]) -> subprocess.CompletedProcess[bytes]:
    """``git push --porcelain --atomic --force-with-lease`` of ``(ref, tip at scan or None, new or None)``.

    ``new`` None deletes the ref; ``old`` None expects the remote not to have it. Refs of the
    mirror not named in ``updates`` are not pushed. The caller parses the porcelain output;
    the throw-away remote and the leases are gone afterwards.
    """
    clear(mirror)
    for _ref, old, _new in updates:
        if old is not None and not _OID.fullmatch(old):
            raise UsageError("a tip at scan is not an object id; the rewrite record is damaged")
    config = [f"[remote {_quoted(REMOTE)}]", f"\tfetch = {_quoted('+refs/*:' + LEASES + '*')}"]
    config += [f"\tpush = {_quoted(spec)}" for spec in _refspecs(mirror, updates)]
    leases = [[f"{old} {LEASES}{ref.removeprefix('refs/')}\n"] for ref, old, _new in updates if old is not None]
    try:
        with (mirror / "config").open("a", encoding="utf-8") as out:
            out.write("\n".join(config) + "\n")
        _write_packed(mirror, _packed_entries(mirror) + leases)
        credentials: dict[str, str] = {}
        target.add_credentials(credentials)  # a URL's user info goes by helper, as for every git call
        # git runs in the mirror: a relative path remote is the operator's, made absolute here.
        url = str(target.path.resolve()) if target.path is not None and not target.path.is_absolute() \
            else target.argument()
        return run(["-c", f"remote.{REMOTE}.url={url}", "push", "--porcelain", "--atomic",
                        "--force-with-lease", REMOTE], cwd=mirror, check=False, env=credentials)
    finally:
        clear(mirror)
