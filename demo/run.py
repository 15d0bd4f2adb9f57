"""``make demo``: the whole coordinated purge on a generated repository, start to proven rotation.

Builds the Aurora story repository (a TLS key, a chat transcript with
credentials, default JWT_SECRET/ADMIN_PASSWORD, a DSN, a committed .env), a
bare remote, an OpenBao dev server seeded with the leaked values, and — when
Debian's PostgreSQL is installed — a database whose role still uses the
leaked password, and — when Debian's MariaDB is installed — a MariaDB whose
``ops`` account still logs in with the password the support transcript
leaked. Then it runs the coordinated-purge playbook to the approval gate,
approves as the security lead, and resumes through push, verify, guard and
rotation, and prints every exposed credential's final state (proven dead,
revoked, rotated but unproven, or still live with the step to take). Every
process it starts, it stops. No secret value is printed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click

from demo.services import (
    MariaDBServer,
    MotoIAM,
    OpenBaoDev,
    PostgresCluster,
    ServiceError,
    mariadb_binaries,
    postgres_bindir,
)
from demo.story_repo import LEAD, DemoRepo, build_demo_repo
from sanitize import git
from sanitize.errors import SanitizeError, UsageError
from sanitize.secret import sha256_hex

MARKER = ".git-sanitize-demo"
DB_ROLE = "aurora_app"
MYSQL_USER = "ops"  # the account the support transcript's DSN names


def _say(text: str = "") -> None:
    click.echo(text)


def _prepare(out: Path) -> None:
    """A fresh output directory; only a previous demo's directory is ever removed."""
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise UsageError(f"{out} exists and is not a previous demo's output; choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("created by `make demo`; safe to delete\n")


def _leaked(repo: DemoRepo, rule: str) -> str:
    return next(p.value for p in repo.planted if p.rule == rule)


def _cli(args: list[str], env: dict[str, str]) -> int:
    _say(f"\n$ git-sanitize {shlex.join(args)}")  # quoted: a reader may paste it
    return subprocess.run([sys.executable, "-m", "sanitize.cli", *args], env=env, check=False).returncode


def _transcript_mysql_password(repo: DemoRepo) -> str | None:
    """The password in the transcript's ``mysql://`` DSN (the scan reports it as a dsn.password finding)."""
    for p in repo.planted:
        if p.rule == "path.credential-json":
            for message in json.loads(p.value).get("messages", []):
                found = re.search(r"mysql://[^:/@\s]+:([^@/\s]+)@", str(message.get("content", "")))
                if found:
                    return found.group(1)
    return None


def _write_config(out: Path, vault: OpenBaoDev, with_db: bool, with_mysql: bool = False,
                  iam_url: str | None = None) -> Path:
    db_target = ",\n     target: {type: postgres, admin_dsn_env: PG_ADMIN_DSN}" if with_db else ""
    mysql = ("  - {name: OPS_MYSQL_URL, path: aurora/ops, key: OPS_MYSQL_URL,\n"
             "     target: {type: mysql, admin_dsn_env: MYSQL_ADMIN_DSN}}\n") if with_mysql else ""
    aws = ("  - {name: CI_AWS_KEYS, path: aurora/ci, key: CI_AWS_KEYS,\n"
           f'     target: {{type: aws_iam, endpoint_url: "{iam_url}", proof_wait: 5}}}}\n') if iam_url else ""
    config = out / "rotation.yml"
    config.write_text(
        "# Rotation of everything the Aurora history exposed (see README: scheduled rotation).\n"
        f'backend: {{type: vault, url: "{vault.url}", token_env: VAULT_TOKEN, mount: secret}}\n'
        "secrets:\n"
        "  - {name: JWT_SECRET, path: aurora/app, key: JWT_SECRET, generate: {kind: hex, bytes: 64}, max_age: 30d}\n"
        "  - {name: ADMIN_PASSWORD, path: aurora/app, key: ADMIN_PASSWORD, generate: {kind: password, length: 32}}\n"
        "  - {name: DATABASE_URL, path: aurora/db, key: DATABASE_URL, generate: {kind: password, length: 32}"
        f"{db_target}}}\n" + mysql + aws,
        encoding="utf-8",
    )
    return config


def _write_playbook(out: Path) -> Path:
    (out / "roster.csv").write_text(
        "name,email,role\n"
        f"{LEAD[0]},{LEAD[1]},security lead\n"
        "Jordan Lee,jordan@aurora.test,reviewer\n",
        encoding="utf-8",
    )
    # The lead signs approvals with an SSH key, as git signs commits; push trusts only allowed_signers.
    key = out / "lead_ed25519"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", LEAD[1], "-f", str(key)], check=True)
    public = key.with_name(key.name + ".pub").read_text(encoding="utf-8").split()
    (out / "allowed_signers").write_text(f"{LEAD[1]} {public[0]} {public[1]}\n", encoding="utf-8")
    playbook = out / "purge.yml"
    playbook.write_text(
        "# The demo's coordinated purge (see sanitize/playbooks/coordinated-purge.yml for every key).\n"
        "source: ./origin.git\n"
        "workdir: ./.sanitize/purge\n"
        "approvals: {required: 1, allowed_signers: allowed_signers}\n"
        f'notify: {{roster: roster.csv, deadline: "{date.today() + timedelta(days=7)}"}}\n'
        "gc_remote: true\n"
        "rotate: rotation.yml\n",
        encoding="utf-8",
    )
    return playbook


def _stored_hashes(vault: OpenBaoDev, with_mysql: bool = False, with_aws: bool = False) -> dict[str, str]:
    client = vault.client()

    def read(path: str) -> dict[str, str]:
        return dict(client.secrets.kv.v2.read_secret_version(path=path, mount_point="secret",
                                                             raise_on_deleted_version=True)["data"]["data"])

    app, db = read("aurora/app"), read("aurora/db")
    hashes = {"JWT_SECRET": sha256_hex(app["JWT_SECRET"]), "ADMIN_PASSWORD": sha256_hex(app["ADMIN_PASSWORD"]),
              "DATABASE_URL": sha256_hex(db["DATABASE_URL"])}
    if with_mysql:
        hashes["OPS_MYSQL_URL"] = sha256_hex(read("aurora/ops")["OPS_MYSQL_URL"])
    if with_aws:
        hashes["CI_AWS_KEYS"] = sha256_hex(read("aurora/ci")["CI_AWS_KEYS"])
    return hashes


def _status(workdir: Path, env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "sanitize.cli", "status", "--workdir", str(workdir), "--format",
                           "json"], env=env, capture_output=True, text=True, check=False)
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def _print_states(workdir: Path) -> None:
    """Every exposed credential's final state, from the last rotation run's audit records."""
    from sanitize.audit import AuditLog

    records = list(AuditLog(workdir / "audit.log").records())
    starts = [i for i, r in enumerate(records) if r.get("event") == "rotation.start"]
    last = records[starts[-1]:] if starts else []
    rows = [r for r in last if r.get("event") == "rotation.secret" and r.get("state")]
    _say("\n   Every credential the history exposed, and where it stands now:")
    for r in rows:
        detail = r.get("proof") or r.get("why") or r.get("action") or r.get("reason") or ""
        _say(f"   {r['secret']:<28} {r['state']:<20} {detail}")
    live = [r["secret"] for r in rows if r["state"] == "still-live"]
    if live:
        _say(f"   {len(live)} still live: each line above says what to do, then "
             "`git-sanitize rotate --config rotation.yml --ack NAME` records it.")


def run_demo(out: Path) -> int:
    """Run the demo into ``out``; returns the process exit code."""
    out = out.resolve()
    _prepare(out)
    _say(f"git-sanitize demo — everything goes to {out}\n")

    _say("1. Building the Aurora repository: its history holds a TLS private key, a chat transcript with")
    _say("   credentials, default JWT_SECRET/ADMIN_PASSWORD, a production DSN and a committed .env.")
    # The transcript's AWS key pair is a real key of a local IAM (moto's server, authentication on), so the
    # rotation at the end can replace it and prove the leaked one refused.
    iam: MotoIAM | None = None
    try:
        iam = MotoIAM(out / "iam").start()
        transcript_aws: tuple[str, str] | None = iam.create_user_with_key("deploy-bot")
    except (ServiceError, OSError) as exc:
        _say(f"   (no local IAM: {exc}; the transcript's AWS key pair will be reported still live)")
        if iam is not None:
            iam.stop()
        iam, transcript_aws = None, None
    repo = build_demo_repo(out / "work", story_only=True, transcript_aws=transcript_aws)
    origin = out / "origin.git"
    git.run(["init", "-q", "--bare", str(origin)])
    git.run(["push", "-q", "--mirror", str(origin)], cwd=repo.path)
    _say(f"   bare remote (what collaborators clone): {origin}")

    jwt, admin = _leaked(repo, "default.jwt-secret"), _leaked(repo, "default.admin-password")
    db_password = _leaked(repo, "dsn.password")
    env = dict(os.environ)
    services: list[OpenBaoDev | PostgresCluster | MariaDBServer | MotoIAM] = [iam] if iam is not None else []
    try:
        vault = OpenBaoDev(out / "openbao").start()
        services.append(vault)
        env["VAULT_TOKEN"] = vault.token
        _say(f"2. OpenBao dev server at {vault.url}, seeded with the leaked values (as production had them).")
        bindir = postgres_bindir()
        if bindir is not None:
            cluster = PostgresCluster(bindir).init()
            services.append(cluster)
            dsn = cluster.create_role(DB_ROLE, db_password)
            env["PG_ADMIN_DSN"] = cluster.admin_dsn
            _say(f"   PostgreSQL on 127.0.0.1:{cluster.port}: role {DB_ROLE} still logs in with the leaked password.")
        else:
            dsn = f"postgresql://{DB_ROLE}:{quote(db_password, safe='')}@db.aurora.internal:5432/aurora"
            _say("   PostgreSQL is not installed: skipped rotating the DSN in a real database (store only).")
        client = vault.client()
        client.secrets.kv.v2.create_or_update_secret(path="aurora/app", mount_point="secret",
                                                     secret={"JWT_SECRET": jwt, "ADMIN_PASSWORD": admin})
        client.secrets.kv.v2.create_or_update_secret(path="aurora/db", mount_point="secret",
                                                     secret={"DATABASE_URL": dsn})
        leaked = {"JWT_SECRET": sha256_hex(jwt), "ADMIN_PASSWORD": sha256_hex(admin), "DATABASE_URL": sha256_hex(dsn)}
        binaries, ops_password = mariadb_binaries(), _transcript_mysql_password(repo)
        if binaries is not None and ops_password is not None:
            maria = MariaDBServer(*binaries)
            services.append(maria)
            maria.start()
            mysql_dsn = maria.create_user(MYSQL_USER, ops_password) + "aurora"
            with maria.connect() as conn, conn.cursor() as cur:
                cur.execute("CREATE DATABASE aurora")
                cur.execute("GRANT ALL ON aurora.* TO %s@'%%'", (MYSQL_USER,))
            env["MYSQL_ADMIN_DSN"] = maria.admin_dsn
            client.secrets.kv.v2.create_or_update_secret(path="aurora/ops", mount_point="secret",
                                                         secret={"OPS_MYSQL_URL": mysql_dsn})
            leaked["OPS_MYSQL_URL"] = sha256_hex(mysql_dsn)
            _say(f"   MariaDB on 127.0.0.1:{maria.port}: account {MYSQL_USER} still logs in with the password "
                 "the support transcript leaked.")
        else:
            _say("   MariaDB is not installed: the transcript's MySQL DSN will be reported still live.")

        if iam is not None and transcript_aws is not None:
            pair = json.dumps({"aws_access_key_id": transcript_aws[0], "aws_secret_access_key": transcript_aws[1],
                               "region": "us-east-1"})
            client.secrets.kv.v2.create_or_update_secret(path="aurora/ci", mount_point="secret",
                                                         secret={"CI_AWS_KEYS": pair})
            leaked["CI_AWS_KEYS"] = sha256_hex(pair)
            # The rotation's admin credential: boto3's default chain, as in production.
            env.update(AWS_ACCESS_KEY_ID=iam.admin[0], AWS_SECRET_ACCESS_KEY=iam.admin[1],
                       AWS_DEFAULT_REGION="us-east-1")
            for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
                env.pop(var, None)
            _say(f"   IAM (moto's server, signatures checked) at {iam.endpoint_url}: the transcript's AWS key pair "
                 "still works.")
        _write_config(out, vault, with_db=bindir is not None, with_mysql="OPS_MYSQL_URL" in leaked,
                      iam_url=iam.endpoint_url if iam is not None and "CI_AWS_KEYS" in leaked else None)
        playbook = _write_playbook(out)
        workdir = out / ".sanitize" / "purge"

        _say("\n3. Every input the purge will need, checked before anything changes (run --check):")
        code = _cli(["run", str(playbook), "--check"], env)
        if code != 0:
            _say(f"demo: the playbook check failed with exit {code}")
            return code

        _say("\n   The coordinated purge, up to the approval gate (exit 3 is expected here):")
        code = _cli(["run", str(playbook)], env)
        if code != 3:
            _say(f"demo: expected the approval gate (exit 3), got exit {code}")
            return code or 1
        digest = _status(workdir, env)["plan_digest"]

        _say(f"\n4. {LEAD[0]}, the security lead, reviews the plan and signs an approval of its exact digest:")
        code = _cli(["approve", "--workdir", str(workdir), "--approver", LEAD[0], "--digest", digest,
                     "--key", str(out / "lead_ed25519")], env)
        if code != 0:
            return code

        _say("\n5. Resume: force-push with leases, verify a fresh clone, install the guard, rotate:")
        code = _cli(["run", str(playbook)], env)
        rotate_stage = _status(workdir, env)["stages"]["rotate"]["status"]
        if code == 1 and rotate_stage == "waiting":
            _say("   exit 1 is the honest answer here: credentials no store of this demo holds (an OpenAI key, the TLS "
                 "private key, copies of values on other branches) are still live until someone revokes them and "
                 "records it with --ack.")
        elif code != 0:
            _say(f"demo: the resumed run failed with exit {code}")
            return code

        now = _stored_hashes(vault, with_mysql="OPS_MYSQL_URL" in leaked, with_aws="CI_AWS_KEYS" in leaked)
        _say("\n6. Proof:")
        for name, old in leaked.items():
            verdict = "rotated (leaked value no longer current)" if now[name] != old else "STILL THE LEAKED VALUE"
            _say(f"   {name:<15} {verdict}")
        _print_states(workdir)
        _cli(["status", "--workdir", str(workdir)], env)
        _say("\nWhere to look:")
        _say(f"   plan for reviewers:   {workdir / 'review' / 'plan.md'}")
        _say(f"   rewrite report:       {workdir / 'rewrite-report.md'}")
        _say(f"   notices to send:      {workdir / 'notices'}")
        _say(f"   audit log:            {workdir / 'audit.log'}")
        _say(f"   original history:     {workdir / 'backup.bundle'} (git-sanitize restore)")
        return 0 if all(now[n] != leaked[n] for n in leaked) else 1
    finally:
        for service in reversed(services):
            if isinstance(service, PostgresCluster):
                service.destroy()
            else:
                service.stop()


@click.command()
@click.option("--out", default="demo-out", show_default=True, type=click.Path(file_okay=False),
              help="Where the demo writes its repository, remote, workdir and services' state.")
def main(out: str) -> None:
    """Run the git-sanitize demo end to end."""
    try:
        code = run_demo(Path(out))
    except SanitizeError as exc:
        click.echo(f"demo: {exc}", err=True)
        code = 2
    sys.exit(code)


if __name__ == "__main__":
    main()
