"""Decoding: exact values inside JSON-escaped text, and secrets under base64, URL-encoding, gzip/zip/tar, UTF-16/32.

Every case plants a fake secret generated at run time and asserts the exact value
(its SHA-256), how it was decoded (``encoding``) and the literal the plan must
replace (what really sits in the blob, or nothing when the blob must go whole).
The end-to-end test runs scan → plan → rewrite on a repository holding all of
them and proves none is reachable afterwards.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import random
import string
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from sanitize import git
from sanitize.scan import decode
from sanitize.scan.detectors import Detector
from sanitize.scan.report import ScanReport
from sanitize.secret import sha256_hex

ALNUM = string.ascii_letters + string.digits


def _value(rng: random.Random, n: int = 22) -> str:
    # Mixed classes, so the generic assignment rules take it for a password.
    return "".join(rng.choice(ALNUM) for _ in range(n)) + "7qZ"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector()


@dataclass(frozen=True)
class Case:
    """One planted secret: the blob, the path it sits at, and what the scan must say about it."""

    name: str
    path: str
    data: bytes
    value: str
    encoding: tuple[str, ...]
    literal: bytes | None  # what the plan replaces; None: the blob is deleted whole


def _zip(name: str, text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("README.txt", "release bundle\n")
        zf.writestr(name, text)
    return buf.getvalue()


def _tar_gz(name: str, text: str) -> bytes:
    buf = io.BytesIO()
    raw = text.encode()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo(name)
        info.size = len(raw)
        tf.addfile(info, io.BytesIO(raw))
    return buf.getvalue()


def cases(seed: int) -> list[Case]:
    """Every decoding case, with values from ``seed``."""
    rng = random.Random(seed)
    v = [_value(rng) for _ in range(19)]
    out: list[Case] = []

    text = json.dumps({"role": "user", "text": f"DB is postgres://app:{v[0]}@db.internal/app\nthanks"})
    out.append(Case("json-dsn", "chat/session.json", text.encode(), v[0], (), v[0].encode()))
    text = json.dumps({"role": "tool", "text": f'config: password="{v[1]}"\nrestarted'})
    out.append(Case("json-quoted-password", "chat/agent.json", text.encode(), v[1], (), v[1].encode()))
    # A value whose JSON form differs from the value: "/" written as "\/" (PHP, some exporters).
    slashed = v[2][:8] + "/" + v[2][8:]
    text = json.dumps({"text": f"export JWT_SECRET={slashed}\nok"}).replace("/", "\\/")
    out.append(Case("json-escaped-slash", "chat/php-export.json", text.encode(), slashed, ("json",),
                    json.dumps(slashed)[1:-1].replace("/", "\\/").encode()))
    nb = {"cells": [{"cell_type": "code", "source": ["import os\n", "print(os.environ)\n"],
                     "outputs": [{"output_type": "stream", "name": "stdout",
                                  "text": ["HOME=/root\n", f"API_TOKEN={v[3]}\n", "PATH=/usr/bin\n"]}]}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    out.append(Case("notebook-output", "analysis/explore.ipynb", json.dumps(nb, indent=1).encode(), v[3], (),
                    v[3].encode()))
    lines = [json.dumps({"type": "message", "content": "hello"}),
             json.dumps({"type": "tool_result", "content": f"ADMIN_PASSWORD={v[4]}\nDEBUG=1\n"}), ""]
    out.append(Case("jsonl", "logs/agent-run.jsonl", "\n".join(lines).encode(), v[4], (), v[4].encode()))
    out.append(Case("crlf", "deploy/settings.sh", f"export DB_PASSWORD={v[5]}\r\nexport PORT=8080\r\n".encode(),
                    v[5], (), v[5].encode()))
    out.append(Case("utf16le-bom", "scripts/setup.ps1",
                    ("\ufeff" + f'$conn = "postgres://svc:{v[6]}@db/app"\r\n').encode("utf-16-le"), v[6],
                    ("utf-16le",), None))
    dump = (f"-- dump\nINSERT INTO settings VALUES ('dsn', 'postgres://app:{v[7]}@10.0.0.5/app');\n" * 3).encode()
    out.append(Case("gzip-sql", "backups/dump.sql.gz", gzip.compress(dump, mtime=0), v[7], ("gzip",), None))
    out.append(Case("zip-member", "dist/bundle.zip", _zip("conf/prod.env", f"JWT_SECRET={v[8]}\n"), v[8], ("zip",),
                    None))
    enc = _b64(v[9])
    manifest = (f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\ndata:\n  username: {_b64('app')}\n"
                f"  password: {enc}\n")
    out.append(Case("kubernetes-secret", "k8s/db-secret.yaml", manifest.encode(), v[9], ("base64",), enc.encode()))
    enc = _b64(f"deployer:{v[10]}")
    docker = json.dumps({"auths": {"registry.example.invalid": {"auth": enc}}}, indent=2)
    out.append(Case("docker-auth", "ci/docker/config.json", docker.encode(), v[10], ("base64",), enc.encode()))
    enc = _b64(f"ops:{v[11]}")
    script = f"curl -fsS -H 'Authorization: Basic {enc}' https://api.example.invalid/health\n"
    out.append(Case("basic-auth", "scripts/health.sh", script.encode(), v[11], ("base64",), enc.encode()))
    pw = v[12][:6] + "@" + v[12][6:12] + "/" + v[12][12:]
    quoted = pw.replace("@", "%40").replace("/", "%2F")
    out.append(Case("url-encoded-dsn", "config/database.txt", f"url = postgres://app:{quoted}@db:5432/app\n".encode(),
                    pw, ("url",), quoted.encode()))
    enc = _b64(f"# rendered config\nSESSION_SECRET={v[13]}\nLOG_LEVEL=info\n")
    out.append(Case("standalone-base64", "deploy/values.txt", f"config: {enc}\n".encode(), v[13], ("base64",),
                    enc.encode()))
    out.append(Case("tar-gz-member", "releases/conf.tar.gz", _tar_gz("etc/app.env", f"REDIS_PASSWORD={v[14]}\n"),
                    v[14], ("gzip", "tar"), None))
    inner = _b64(f"deployer:{v[15]}")
    dockercfg = json.dumps({"auths": {"ghcr.example.invalid": {"auth": inner}}})
    enc = _b64(dockercfg)
    pull = (f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: pull\ntype: kubernetes.io/dockerconfigjson\ndata:\n"
            f"  .dockerconfigjson: {enc}\n")
    out.append(Case("kubernetes-dockerconfigjson", "k8s/pull-secret.yaml", pull.encode(), v[15],
                    ("base64", "base64"), enc.encode()))
    enc = _b64(v[16])
    xml = ('<?xml version="1.0"?>\n<FileZilla3>\n  <RecentServers>\n    <Server>\n'
           '      <Host>ftp.example.invalid</Host>\n'
           f'      <User>deploy</User>\n      <Pass encoding="base64">{enc}</Pass>\n    </Server>\n'
           f'  </RecentServers>\n</FileZilla3>\n')
    out.append(Case("filezilla-base64-pass", "filezilla/recentservers.xml", xml.encode(), v[16], ("base64",),
                    enc.encode()))
    enc = _b64(v[17])
    listing = json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "api"}, "type": "Opaque",
                          "data": {"api-token": enc, "region": _b64("eu-west-1")}}, indent=4)
    out.append(Case("kubernetes-secret-json", "ops/secret.json", listing.encode(), v[17], ("base64",), enc.encode()))
    enc = _b64(v[18])
    items = (f"apiVersion: v1\nitems:\n- apiVersion: v1\n  data:\n    db_password: {enc}\n  kind: Secret\n"
             f"  metadata:\n    name: db\nkind: List\n")
    out.append(Case("kubernetes-secret-list", "ops/secrets.yaml", items.encode(), v[18], ("base64",), enc.encode()))
    return out


@pytest.mark.parametrize("case", cases(2026), ids=lambda c: c.name)
def test_decoded_value_is_exact(detector: Detector, case: Case) -> None:
    hits = [h for h in detector.scan_blob(case.data, case.path) if h.kind == "content"]
    by_sha = {h.secret_sha256: h for h in hits}
    assert sha256_hex(case.value) in by_sha, [(h.rule, h.preview) for h in hits]
    assert by_sha[sha256_hex(case.value)].encoding == case.encoding
    recovered = detector.recover(case.data, case.path)[sha256_hex(case.value)]
    assert recovered.reveal() == case.value
    literals = {lit.reveal().encode("utf-8", "surrogateescape") for lit in recovered.literals}
    if case.literal is None:
        assert literals == set()  # nothing in the blob holds it: the blob must go whole
    else:
        assert literals == {case.literal}
        assert case.literal in case.data


def test_json_value_does_not_run_past_an_escape(detector: Detector) -> None:
    """The old failure: ``JWT_SECRET=…\\nNEXT`` in a JSON string was reported with ``\\nNEXT`` glued on."""
    rng = random.Random(7)
    value = _value(rng)
    data = json.dumps({"text": f"JWT_SECRET={value}\nNEXT_STEP=deploy"}).encode()
    shas = {h.secret_sha256 for h in detector.scan_blob(data, "t.json") if h.kind == "content"}
    assert sha256_hex(value) in shas
    assert sha256_hex(value + "\\nNEXT_STEP=deploy") not in shas


def test_kubernetes_non_credential_keys_are_not_reported(detector: Detector) -> None:
    rng = random.Random(8)
    name = "".join(rng.choice(string.ascii_lowercase) for _ in range(12))
    manifest = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\ndata:\n  username: {_b64(name + 'Q7')}\n"
    assert [h for h in detector.scan_blob(manifest.encode(), "k8s/s.yaml") if h.kind == "content"] == []


def test_decoding_depth_is_bounded(detector: Detector) -> None:
    """Three base64 layers are one more than MAX_DEPTH: the scan does not follow them."""
    rng = random.Random(9)
    value = _value(rng)
    two = _b64(_b64(f"padding text around it\nJWT_SECRET={value}\nmore padding text"))
    three = _b64(two)

    def found(text: str) -> set[str]:
        return {h.secret_sha256 for h in detector.scan_blob(text.encode(), "a.txt")}

    assert sha256_hex(value) in found(f"payload_b64: {two}\n")
    assert sha256_hex(value) not in found(f"payload_b64: {three}\n")


def test_compression_bomb_is_not_inflated_past_the_ratio_cap(detector: Detector) -> None:
    """A tiny gzip that inflates 1000-fold is read only up to the ratio cap: a secret behind it is not reached."""
    rng = random.Random(10)
    value = _value(rng)
    filler = b"\n" * (decode.RATIO_FLOOR * 4)
    bomb = gzip.compress(filler + f"JWT_SECRET={value}\n".encode(), mtime=0)
    assert len(filler) > decode.MAX_RATIO * len(bomb)
    budget = decode.Budget()
    views = list(decode.container_views(bomb, "x.gz", (), decode.RAW, budget))
    assert views and len(views[0].data) <= max(decode.RATIO_FLOOR, decode.MAX_RATIO * len(bomb))
    assert sha256_hex(value) not in {h.secret_sha256 for h in detector.scan_blob(bomb, "x.gz")}
    small = gzip.compress(f"JWT_SECRET={value}\n".encode(), mtime=0)
    assert sha256_hex(value) in {h.secret_sha256 for h in detector.scan_blob(small, "x.gz")}


def test_decoded_budget_is_shared_by_all_members() -> None:
    rng = random.Random(11)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for n in range(4):  # hex text: compresses about 2:1, far below the ratio cap
            zf.writestr(f"m{n}.txt", rng.randbytes(decode.MAX_DECODED // 6).hex())
    views = list(decode.container_views(buf.getvalue(), "a.zip", (), decode.RAW, decode.Budget()))
    assert len(views) == 3 and sum(len(v.data) for v in views) <= decode.MAX_DECODED


def test_json_unescape_maps_offsets_back_to_the_raw_line() -> None:
    raw = rb'{"t": "a\nb \"q\" c\/d \u0041 end"}'
    un = decode.json_unescape(raw)
    assert un is not None and un.text == b'{"t": "a\nb "q" c/d A end"}'
    start = un.text.index(b"c/d")
    s, e = un.raw_offset(start, end=False), un.raw_offset(start + 3, end=True)
    assert raw[s:e] == rb"c\/d"
    q = un.text.index(b'"q"')
    assert raw[un.raw_offset(q, end=False):un.raw_offset(q + 3, end=True)] == rb'\"q\"'
    assert decode.json_unescape(b"no escapes here") is None


def test_utf16_without_bom_and_utf32_are_read(detector: Detector) -> None:
    rng = random.Random(12)
    value = _value(rng)
    text = f"line one\nJWT_SECRET={value}\n"
    for codec, name in (("utf-16-be", "utf-16be"), ("utf-16-le", "utf-16le"), ("utf-32", "utf-32le")):
        hits = {h.secret_sha256: h for h in detector.scan_blob(text.encode(codec), "notes.txt")}
        assert hits[sha256_hex(value)].encoding == (name,), codec


# --- end to end: scan → plan → rewrite → nothing left -------------------------------------------------------

def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitize.cli", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})


def _all_objects(repo: Path) -> bytes:
    return git.run(["cat-file", "--batch-all-objects", "--batch"], cwd=repo).stdout


def test_every_decoded_finding_is_planned_and_gone_after_rewrite(tmp_path: Path) -> None:
    planted = cases(4242)
    repo = tmp_path / "origin"
    git.run(["init", "-q", "-b", "main", str(repo)])
    ident = ["-c", "user.name=T", "-c", "user.email=t@example.invalid"]
    for n, case in enumerate(planted):
        target = repo / case.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(case.data)
        git.run(["add", case.path], cwd=repo)
        git.run([*ident, "commit", "-qm", f"add {case.name} ({n})"], cwd=repo)
    # A commit message with Basic credentials: reworded with the base64 literal, like blobs.
    rng = random.Random(4243)
    msg_value = _value(rng)
    msg_literal = _b64(f"ci:{msg_value}")
    (repo / "README.md").write_text("# service\n", encoding="utf-8")
    git.run(["add", "README.md"], cwd=repo)
    git.run([*ident, "commit", "-qm", f"readme\n\nchecked with: curl -H 'Authorization: Basic {msg_literal}' ..."],
            cwd=repo)

    findings = tmp_path / "findings.json"
    proc = _cli("scan", str(repo), "-o", str(findings))
    assert proc.returncode == 1, proc.stderr
    report = ScanReport.load(findings)
    by_sha = {f.secret_sha256: f for f in report.findings if f.kind == "content"}
    for case in planted:
        assert sha256_hex(case.value) in by_sha, case.name
        assert by_sha[sha256_hex(case.value)].encoding == case.encoding, case.name
    message = next(f for f in report.findings if f.kind == "message")
    assert message.secret_sha256 == sha256_hex(msg_value) and message.encoding == ("base64",)
    doc = json.loads(findings.read_text(encoding="utf-8"))
    assert any(f.get("encoding") == ["gzip"] for f in doc["findings"])
    assert all("encoding" not in f or f["encoding"] for f in doc["findings"])  # only when non-empty

    # JSON files with credentials are deleted whole by default (path.credential-json); keep them, so the
    # values inside their JSON strings must be replaced in place, exactly as they are escaped there.
    json_paths = sorted({c.path for c in planted if c.path.endswith((".json", ".jsonl"))})
    assert {f.path for f in report.findings if f.kind == "path"} == set(json_paths)
    plan_path = tmp_path / "plan" / "plan.json"
    plan_path.parent.mkdir()
    keep = [arg for p in json_paths for arg in ("--keep-path", p)]
    proc = _cli("plan", str(findings), "-o", str(plan_path), *keep)
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(plan_path.read_text(encoding="utf-8"))
    deleted = {d["path"] for d in plan["actions"]["delete_paths"]}
    whole = {c.path for c in planted if c.literal is None}
    assert whole <= deleted
    replaced = {r["secret_sha256"] for r in plan["actions"]["replace"]}
    assert {sha256_hex(c.value) for c in planted if c.literal is not None} <= replaced
    secrets_text = (tmp_path / "plan" / "plan.secrets").read_bytes()
    for case in planted:
        if case.literal is not None:
            assert case.literal in secrets_text, case.name  # the bytes that sit in the blob
    encoded = next(r for r in plan["actions"]["replace"] if r["secret_sha256"] == sha256_hex(planted[9].value))
    assert encoded["encoding"] == ["base64"] and encoded["literal_sha256s"] == [sha256_hex(planted[9].literal or b"")]
    md = (tmp_path / "plan" / "plan.md").read_text(encoding="utf-8")
    assert "visible only after gzip decoding" in md and "UTF-16" in md
    for case in planted:
        assert case.value not in md and case.value not in plan_path.read_text(encoding="utf-8")

    wd = tmp_path / "wd"
    proc = _cli("rewrite", str(plan_path), "--workdir", str(wd))
    assert proc.returncode == 0, proc.stderr + proc.stdout
    mirror = wd / "mirror.git"
    after = tmp_path / "after.json"
    rescan = _cli("scan", str(mirror), "-o", str(after))
    assert rescan.returncode in (0, 1), rescan.stderr
    left = {f.secret_sha256 for f in ScanReport.load(after).findings}
    assert not left & ({sha256_hex(c.value) for c in planted} | {sha256_hex(msg_value)})
    blob_bytes = _all_objects(mirror)
    assert msg_literal.encode() not in blob_bytes and b"Authorization: Basic ***REMOVED***" in blob_bytes
    for case in planted:
        if case.literal is not None:
            assert case.literal not in blob_bytes, case.name
        assert case.data not in blob_bytes, case.name
    # Replaced in place, not deleted: the manifest and the notebook are still there.
    files = git.out(["ls-tree", "-r", "--name-only", "main"], cwd=mirror).splitlines()
    assert {"k8s/db-secret.yaml", "analysis/explore.ipynb", "README.md", *json_paths} <= set(files)
    assert not whole & set(files)
    for path in ("analysis/explore.ipynb", *json_paths):
        text = git.run(["show", f"main:{path}"], cwd=mirror).stdout.decode()
        for line in filter(None, text.splitlines() if path.endswith(".jsonl") else [text]):
            json.loads(line)  # still valid JSON: the value was replaced inside its JSON string
        assert "***REMOVED***" in text, path


def test_notebook_source_with_escaped_quotes(detector: Detector) -> None:
    """Code cells keep their quotes as \\" inside JSON strings: fallbacks and DSNs are still read exactly."""
    rng = random.Random(13)
    a, b, c = (_value(rng) for _ in range(3))
    nb = {"cells": [{"cell_type": "code", "source": [
        "import os\n", f'ADMIN_PASSWORD = "{a}"\n', f'key = os.getenv("API_KEY", "{b}")\n',
        f"db = 'postgres://u:{c}@h/db'\n"]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    shas = {h.secret_sha256 for h in detector.scan_blob(json.dumps(nb, indent=1).encode(), "n.ipynb")}
    assert {sha256_hex(a), sha256_hex(b), sha256_hex(c)} <= shas
