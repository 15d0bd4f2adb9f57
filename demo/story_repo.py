"""Build a repository whose history holds fake secrets of every kind we purge.

One builder serves ``make demo`` (the story of DESIGN.md) and the tests (the
story plus every other kind, spread over every sort of ref, and decoys that
must not be reported). Every value is generated at run time from the seed, so
the project never contains a token-shaped literal, and the same seed always
builds the same history (fixed identities and dates).
"""

from __future__ import annotations

import base64
import json
import random
import string
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sanitize import git
from sanitize.secret import sha256_hex

ALNUM = string.ascii_letters + string.digits
UPPER_DIGITS = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class Planted:
    """One fake secret the scan must report and the rewrite must remove."""

    rule: str  # the rule family the scan should report (tests match on kind + sha256)
    kind: str  # "path" | "content" | "message"
    value: str  # the secret value; for path findings the whole file content
    path: str | None
    ref: str  # a ref that reaches it
    action: str  # "delete-path" | "replace" | "message"

    @property
    def sha256(self) -> str:
        """What the finding's ``secret_sha256`` must equal."""
        return sha256_hex(self.value)


@dataclass(frozen=True)
class DemoRepo:
    """The built repository, what was planted in it, and who worked on it."""

    path: Path
    planted: tuple[Planted, ...]
    decoys: tuple[str, ...]
    authors: tuple[tuple[str, str], ...]


LEAD = ("Dana Reyes", "dana@aurora.test")
DEV = ("Alex Kim", "alex@aurora.test")
OPS = ("Priya Natarajan", "priya@aurora.test")
CONTRACTOR = ("Zoë Müller", "zoe@contractor.test")


class _Values:
    """Fake secrets in the shapes real ones have, built from one seeded RNG."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def chars(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def password(self, n: int = 20) -> str:
        # Mixed classes so entropy-based detectors see a real password, no quotes or URL specials.
        return self.chars(string.ascii_uppercase, 3) + self.chars(ALNUM, n - 6) + self.chars("!#%^*-_", 1) + \
            self.chars(string.digits, 2)

    def url_password(self, n: int = 24) -> str:
        return self.chars(ALNUM, n)

    def hex(self, n: int) -> str:
        return self.chars("0123456789abcdef", n)

    def b64(self, nbytes: int) -> str:
        return base64.b64encode(self.rng.randbytes(nbytes)).decode()

    def pem(self, label: str, nbytes: int = 600) -> str:
        body = self.b64(nbytes)
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        dashes = "-" * 5
        return "\n".join([f"{dashes}BEGIN {label}{dashes}", *lines, f"{dashes}END {label}{dashes}"]) + "\n"

    def aws_key_id(self) -> str:
        return "AK" + "IA" + self.chars(UPPER_DIGITS, 16)

    def aws_secret(self) -> str:
        return self.chars(ALNUM + "/+", 40)

    def github(self) -> str:
        return "gh" + "p_" + self.chars(ALNUM, 36)

    def slack(self) -> str:
        return "xo" + "xb-" + self.chars(string.digits, 12) + "-" + self.chars(string.digits, 13) + "-" + \
            self.chars(ALNUM, 24)

    def stripe(self) -> str:
        return "sk" + "_live_" + self.chars(ALNUM, 24)

    def openai(self) -> str:
        return "sk" + "-proj-" + self.chars(ALNUM + "_-", 48)


@dataclass
class _Builder:
    """Commits files with fixed identities and dates, so a seed gives one history."""

    path: Path
    tick: int = 0
    authors: dict[tuple[str, str], None] = field(default_factory=dict)

    def git(self, *args: str, who: tuple[str, str] = LEAD, input: bytes | None = None) -> str:
        self.tick += 1
        date = f"2026-09-{1 + self.tick // 24:02d}T{self.tick % 24:02d}:00:00+00:00"
        env = {
            "GIT_AUTHOR_NAME": who[0], "GIT_AUTHOR_EMAIL": who[1], "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_NAME": who[0], "GIT_COMMITTER_EMAIL": who[1], "GIT_COMMITTER_DATE": date,
        }
        return git.out(list(args), cwd=self.path, env=env, input=input)

    def commit(self, message: str, files: dict[str, str | bytes | None], who: tuple[str, str] = DEV) -> str:
        for rel, content in files.items():
            target = self.path / rel
            if content is None:
                self.git("rm", "-q", "--", rel)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content.encode() if isinstance(content, str) else content)
            self.git("add", "--", rel)
        self.authors[who] = None
        self.git("commit", "-q", "--allow-empty", "-m", message, who=who)
        return self.git("rev-parse", "HEAD")

    def branch(self, name: str, start: str = "main") -> None:
        self.git("checkout", "-q", "-b", name, start)

    def checkout(self, name: str) -> None:
        self.git("checkout", "-q", name)


def _auth_ts(jwt: str) -> str:
    return (
        'import jwt from "jsonwebtoken";\n\n'
        "// TODO(alex): remove the fallback before launch\n"
        f'const JWT_SECRET = process.env.JWT_SECRET || "{jwt}";\n\n'
        "export function sign(userId: string): string {\n"
        '  return jwt.sign({ sub: userId }, JWT_SECRET, { expiresIn: "1h" });\n'
        "}\n"
    )


def _users_ts(admin: str) -> str:
    return (
        'import { hash } from "./crypto";\n\n'
        f"const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD ?? '{admin}';\n\n"
        "export async function seedAdmin(db: Db): Promise<void> {\n"
        '  await db.users.upsert({ name: "admin", password: await hash(ADMIN_PASSWORD) });\n'
        "}\n"
    )


def _database_yml(pw: str) -> str:
    return (
        "production:\n"
        "  adapter: postgresql\n"
        f"  url: postgresql://aurora_app:{pw}@db.aurora.internal:5432/aurora\n"
        "  pool: 10\n"
    )


def _transcript(v: _Values, dsn_pw: str, key_id: str, key_secret: str, api_key: str) -> str:
    doc = {
        "title": "Support chat: production outage 2026-09-03",
        "messages": [
            {"role": "user", "content": "prod is down, can you check the db? "
             f"the url is mysql://ops:{dsn_pw}@10.0.4.12:3306/aurora"},
            {"role": "assistant", "content": "Can you share how the worker authenticates to S3?"},
            {"role": "user", "content": f"AWS_ACCESS_KEY_ID={key_id} AWS_SECRET_ACCESS_KEY={key_secret}"},
            {"role": "user", "content": "and the model client", "api_key": api_key},
            {"role": "assistant", "content": "Thanks. Please rotate these after we are done."},
        ],
        "session": str(uuid.UUID(int=v.rng.getrandbits(128))),
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _decoys(v: _Values) -> dict[str, str | bytes]:
    example_id = "AK" + "IA" + "IOSFODNN7" + "EXAMPLE"
    example_secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"
    integrity = base64.b64encode(v.rng.randbytes(64)).decode()
    uuids = "\n".join(str(uuid.UUID(int=v.rng.getrandbits(128))) for _ in range(5))
    commits = "\n".join(f"- {v.hex(40)} fix flaky test" for _ in range(5))
    return {
        "docs/aws-setup.md": (
            "# AWS setup\n\nUse the documented example keys to try the CLI:\n\n"
            f"```\nAWS_ACCESS_KEY_ID={example_id}\nAWS_SECRET_ACCESS_KEY={example_secret}\n```\n"
        ),
        "docs/setup.md": (
            "# Local setup\n\n"
            "DATABASE_URL=postgresql://user:password@localhost:5432/app\n"
            "ADMIN_PASSWORD=<your-password>\n"
            "JWT_SECRET=${JWT_SECRET}\n"
            "vault_token: {{ vault_token }}\n"
        ),
        ".env.example": "JWT_SECRET=changeme\nADMIN_PASSWORD=<your-password>\nDATABASE_URL=${DATABASE_URL}\n",
        "package-lock.json": json.dumps(
            {"name": "aurora", "lockfileVersion": 3, "packages": {"node_modules/jsonwebtoken": {
                "version": "9.0.2", "integrity": f"sha512-{integrity}"}}}, indent=2) + "\n",
        "data/ids.txt": uuids + "\n",
        "CHANGELOG.md": "# Changelog\n\n" + commits + "\n",
        "assets/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00" + v.rng.randbytes(2048),
        ".ssl/cert.pem": v.pem("CERTIFICATE", 400),
        "server/config.ts": 'export const PORT = process.env.PORT || "3000";\n',
    }


def build_demo_repo(dest: Path, seed: int = 2026, *, story_only: bool = False,
                    transcript_aws: tuple[str, str] | None = None) -> DemoRepo:
    """Create a work-tree repository at ``dest`` (must not exist or be empty).

    ``transcript_aws``: the AWS key pair the support transcript leaks, when the caller has a real one (the
    demo's IAM server made it, so rotation can prove it dead); else one generated from the seed."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    git.run(["init", "-q", "-b", "main", str(dest)])
    b = _Builder(dest)
    v = _Values(seed)
    planted: list[Planted] = []

    def plant(rule: str, kind: str, value: str, path: str | None, ref: str, action: str) -> None:
        planted.append(Planted(rule, kind, value, path, ref, action))

    # The story of DESIGN.md ----------------------------------------------------------------
    decoys = _decoys(v)
    b.commit("Initial commit: Aurora API skeleton", {
        "README.md": "# Aurora\n\nThe Aurora API server.\n",
        "server/index.ts": 'import { sign } from "./auth";\nconsole.log("aurora up");\n',
        **{p: c for p, c in decoys.items() if p in (".env.example", "docs/setup.md", "server/config.ts")},
    }, who=LEAD)
    jwt = v.chars(ALNUM, 40)
    b.commit("Add JWT auth", {"server/auth.ts": _auth_ts(jwt)}, who=DEV)
    plant("default.jwt-secret", "content", jwt, "server/auth.ts", "refs/heads/main", "replace")
    admin = v.password()
    b.commit("Seed the admin user", {"server/users.ts": _users_ts(admin)}, who=DEV)
    plant("default.admin-password", "content", admin, "server/users.ts", "refs/heads/main", "replace")
    key = v.pem("PRIVATE" + " KEY", 900)
    b.commit("Enable TLS for local testing", {".ssl/key.pem": key, ".ssl/cert.pem": decoys[".ssl/cert.pem"]}, who=OPS)
    plant("path.private-key", "path", key, ".ssl/key.pem", "refs/heads/main", "delete-path")
    db_pw = v.url_password()
    b.commit("Production database config", {"config/database.yml": _database_yml(db_pw)}, who=OPS)
    plant("dsn.password", "content", db_pw, "config/database.yml", "refs/heads/main", "replace")
    chat_pw, chat_id, chat_secret, chat_api = v.url_password(), v.aws_key_id(), v.aws_secret(), v.openai()
    if transcript_aws is not None:
        chat_id, chat_secret = transcript_aws
    transcript = _transcript(v, chat_pw, chat_id, chat_secret, chat_api)
    b.commit("Save the outage support transcript", {"docs/chat/outage-2026-09-03.json": transcript}, who=CONTRACTOR)
    plant("path.credential-json", "path", transcript, "docs/chat/outage-2026-09-03.json", "refs/heads/main",
          "delete-path")

    b.branch("feature/local-dev")
    env_file = f"JWT_SECRET={v.chars(ALNUM, 32)}\nDATABASE_URL=postgres://aurora_app:{v.url_password()}@localhost/aurora\n"
    b.commit("Local dev environment", {".env": env_file}, who=DEV)
    plant("path.dotenv", "path", env_file, ".env", "refs/heads/feature/local-dev", "delete-path")
    b.checkout("main")

    if not story_only:
        _plant_everything_else(b, v, plant, decoys)

    return DemoRepo(
        path=dest,
        planted=tuple(planted),
        decoys=tuple(sorted(decoys)),
        authors=tuple(b.authors),
    )


def _plant_everything_else(b: _Builder, v: _Values, plant, decoys: dict[str, str | bytes]) -> None:  # type: ignore[no-untyped-def]
    """Every other kind, on every sort of ref, and the decoys."""
    b.commit("Docs, lockfile, assets", {p: c for p, c in decoys.items() if p not in (
        ".env.example", "docs/setup.md", "server/config.ts", ".ssl/cert.pem")}, who=LEAD)

    # A side branch with cloud and provider keys, merged back.
    b.branch("feature/deploy")
    key_id, key_secret = v.aws_key_id(), v.aws_secret()
    b.commit("Deploy script", {"deploy/aws.sh": (
        "#!/bin/sh\n"
        f"export AWS_ACCESS_KEY_ID={key_id}\n"
        f"export AWS_SECRET_ACCESS_KEY={key_secret}\n"
        "aws s3 sync build/ s3://aurora-web\n")}, who=OPS)
    plant("aws.access-key", "content", key_id, "deploy/aws.sh", "refs/heads/feature/deploy", "replace")
    plant("aws.secret-key", "content", key_secret, "deploy/aws.sh", "refs/heads/feature/deploy", "replace")
    stripe = v.stripe()
    b.commit("Billing client", {"billing/stripe.ts": (
        'import Stripe from "stripe";\n'
        f'export const stripe = new Stripe("{stripe}");\n')}, who=DEV)
    plant("stripe.key", "content", stripe, "billing/stripe.ts", "refs/heads/main", "replace")
    slack = v.slack()
    b.commit("Ops notifications", {"ops/notify.py": (
        "import requests\n\n"
        f'SLACK_TOKEN = "{slack}"\n\n'
        "def notify(text):\n"
        "    requests.post(\"https://slack.com/api/chat.postMessage\",\n"
        "                  headers={\"Authorization\": \"Bearer \" + SLACK_TOKEN},"
        ' json={"channel": "#ops", "text": text})\n')}, who=OPS)
    plant("slack.token", "content", slack, "ops/notify.py", "refs/heads/main", "replace")
    # A deleted file: an SSH key committed, then removed (still in history).
    ssh = v.pem("OPENSSH PRIVATE" + " KEY", 1200)
    b.commit("Deploy key for the build box", {"deploy/id_rsa": ssh}, who=OPS)
    plant("path.private-key", "path", ssh, "deploy/id_rsa", "refs/heads/main", "delete-path")
    b.commit("Remove deploy key", {"deploy/id_rsa": None}, who=OPS)
    b.checkout("main")
    b.git("merge", "-q", "--no-ff", "-m", "Merge branch 'feature/deploy'", "feature/deploy", who=LEAD)

    # A renamed file carries its DSN to a new path.
    (b.path / "config/db").mkdir(parents=True, exist_ok=True)
    b.git("mv", "config/database.yml", "config/db/database.yml")
    b.commit("Move database config", {}, who=OPS)

    # More DSN shapes, a non-ASCII file name, a curl bearer token.
    redis_pw, mongo_pw, amqp_pw, mysql_pw = (v.url_password() for _ in range(4))
    bearer = v.chars(ALNUM, 40)
    b.commit("Cache, queue and migration settings", {
        "config/redis.yml": f"cache:\n  url: redis://:{redis_pw}@cache.aurora.internal:6379/0\n",
        "scripts/migrate.js": f'const uri = "mongodb+srv://svc_migrate:{mongo_pw}@cluster0.aurora.test/app";\n',
        "worker/settings.py": f'BROKER_URL = "amqp://worker:{amqp_pw}@mq.aurora.internal:5672//"\n',
        "docs/configuração.md": f"# Configuração\n\nBanco: `mysql://root:{mysql_pw}@10.0.4.13:3306/aurora`\n",
        "docs/api.md": (
            "# API\n\n```\n"
            f'curl -H "Authorization: Bearer {bearer}" https://api.aurora.test/v1/users\n```\n'),
    }, who=CONTRACTOR)
    for pw, path in ((redis_pw, "config/redis.yml"), (mongo_pw, "scripts/migrate.js"),
                     (amqp_pw, "worker/settings.py"), (mysql_pw, "docs/configuração.md")):
        plant("dsn.password", "content", pw, path, "refs/heads/main", "replace")
    plant("curl.bearer", "content", bearer, "docs/api.md", "refs/heads/main", "replace")

    # A secret in a commit message.
    gh = v.github()
    b.commit(f"CI: temporarily use release token {gh}\n\nWill move to secrets later.",
             {"ci/release.sh": "#!/bin/sh\nnpm publish\n"}, who=DEV)
    plant("github.token", "message", gh, None, "refs/heads/main", "message")

    # A lightweight tag whose commit is reachable only from the tag.
    b.branch("tmp-hotfix")
    backup_pw = v.url_password()
    b.commit("Backup script", {"scripts/backup.sh": (
        f'#!/bin/sh\npg_dump "postgresql://backup:{backup_pw}@db.aurora.internal:5432/aurora" > dump.sql\n')},
        who=OPS)
    b.git("tag", "v0.9.1-hotfix")
    plant("dsn.password", "content", backup_pw, "scripts/backup.sh", "refs/tags/v0.9.1-hotfix", "replace")
    # A remote-tracking ref whose commit no branch reaches.
    tf_pw = v.password()
    b.commit("Terraform variables", {"infra/terraform.tfvars": f'db_password = "{tf_pw}"\n'}, who=OPS)
    b.git("update-ref", "refs/remotes/origin/old-infra", "HEAD")
    plant("keyword.password", "content", tf_pw, "infra/terraform.tfvars", "refs/remotes/origin/old-infra", "replace")
    b.checkout("main")
    b.git("branch", "-q", "-D", "tmp-hotfix")

    # An annotated tag whose message holds a key.
    tag_key = v.stripe()
    b.git("tag", "-a", "v1.0.0", "-m", f"Release 1.0.0\n\nbilling key for the launch: {tag_key}", who=LEAD)
    plant("stripe.key", "message", tag_key, None, "refs/tags/v1.0.0", "message")

    # A note with a DSN.
    note_pw = v.url_password()
    b.git("notes", "add", "-m", f"prod check: postgresql://ops:{note_pw}@db.aurora.internal/aurora", "HEAD", who=OPS)
    plant("dsn.password", "content", note_pw, None, "refs/notes/commits", "replace")

    # A stash with an uncommitted session secret.
    session = v.chars(ALNUM, 32)
    (b.path / "server/index.ts").write_text(
        'import { sign } from "./auth";\n'
        f'const SESSION_SECRET = process.env.SESSION_SECRET || "{session}";\n'
        'console.log("aurora up");\n', encoding="utf-8")
    b.git("stash", "-q", who=DEV)
    plant("default.session-secret", "content", session, "server/index.ts", "refs/stash", "replace")


def main() -> None:  # pragma: no cover - a convenience for trying the scan by hand
    """``python -m demo.story_repo DEST``: build the full fixture repository."""
    import sys

    repo = build_demo_repo(Path(sys.argv[1]))
    print(f"{repo.path}: {len(repo.planted)} planted fake secrets, {len(repo.decoys)} decoy files")


if __name__ == "__main__":  # pragma: no cover
    main()
