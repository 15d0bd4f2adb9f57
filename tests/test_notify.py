"""Notices: one per collaborator (history + roster), three formats, a team summary, the forge request; no secret."""

import email
import email.policy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sanitize import git
from sanitize.collaborator.notify import _lfs_objects, notify, read_roster
from sanitize.errors import UsageError
from tests.plugins.rewritten_workdir import AUTHORS, RewrittenWorkdir


def every_output(workdir: Path) -> str:
    """All text the notify stage wrote, plus state and audit log."""
    parts = []
    for p in sorted((workdir / "notices").rglob("*")):
        if p.is_file():
            parts.append(p.read_bytes().decode("utf-8", "replace"))
            if p.suffix == ".eml":  # attachments and bodies may be base64/quoted-printable encoded
                msg = email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
                parts += [part.get_content() for part in msg.walk() if not part.is_multipart()]
    parts.append((workdir / "state.json").read_text())
    parts.append((workdir / "audit.log").read_text())
    return "\n".join(str(x) for x in parts)


def test_every_author_gets_a_notice_in_three_formats(rewritten_workdir: RewrittenWorkdir, tmp_path: Path) -> None:
    r = rewritten_workdir
    roster = tmp_path / "roster.csv"
    roster.write_text("name,email,role\nDana Ops,dana@example.invalid,ops\nAlice A.,ALICE@example.invalid,lead\n")
    proc = subprocess.run([sys.executable, "-m", "sanitize.cli", "notify", "--workdir", str(r.workdir),
                           "--roster", str(roster), "--deadline", "2026-12-01", "--freeze",
                           "Mon 09:00 to Tue 18:00 UTC"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    notices = r.workdir / "notices"
    emails = {e for _, e in AUTHORS} | {"dana@example.invalid"}
    for addr in emails:
        slug = addr.replace("@", "-").replace(".", "-")
        for ext in ("md", "txt", "eml"):
            assert (notices / f"{slug}.{ext}").is_file(), f"{slug}.{ext}"
    assert len(list(notices.glob("*.md"))) == len(emails) + 2  # + team summary + forge request
    carol = (notices / "carol-example-invalid.md").read_text()
    assert "refs/heads/feature" in carol and "refs/heads/main" not in carol.split("Refs you committed")[1][:200]
    assert "2026-12-01" in carol and "**Freeze:** Mon 09:00 to Tue 18:00 UTC" in carol
    for c in r.first_changed_commits:
        assert f"git cat-file -e {c} 2>/dev/null && echo 'FAIL: old commit {c[:12]}" in carol
    # One procedure: migrate carries the work, --finish deletes backups and old objects only after checking it.
    keep = carol.split("## Keep your clone")[1].split("## Self-check")[0]
    assert keep.index("git-sanitize migrate --commit-map") < keep.index("git-sanitize migrate --finish")
    assert "git reset --hard" not in carol and "reflog expire" not in carol
    assert "The purge deleted these branches on the server: `leak`" in carol
    assert "rebase, never merge" in carol
    assert f"git clone {r.remote}" in carol and "Forks" in carol
    summary = (notices / "team-summary.md").read_text()
    assert "Dana Ops" in summary and "| Alice A. | alice@example.invalid | lead |" in summary


def test_no_notice_contains_a_secret_value(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    notify(r.workdir, deadline="2026-12-01")
    text = every_output(r.workdir)
    assert ".env" in text and "default.password" in text  # what was removed is named…
    for secret in r.secrets:
        assert secret not in text  # …its value never


def test_eml_is_ready_to_send_with_the_migrate_kit(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    notify(r.workdir, sender="Sec <sec@example.invalid>")
    msg = email.message_from_bytes((r.workdir / "notices" / "bob-example-invalid.eml").read_bytes(),
                                   policy=email.policy.default)
    assert msg["To"] == "Bob Builder <bob@example.invalid>" and msg["From"] == "Sec <sec@example.invalid>"
    assert "history rewritten" in msg["Subject"] and msg["Message-ID"]
    assert "SAFE PATH" in msg.get_body(preferencelist=("plain",)).get_content()
    names = {part.get_filename() for part in msg.iter_attachments()}
    assert names == {"commit-map", "purged.json"}
    purged = json.loads((r.workdir / "notices" / "publish" / "purged.json").read_text())
    assert purged["paths"] == [".env"] and set(purged["blobs"]) == set(r.purged_blobs)


def test_forge_support_request_lists_pull_refs_and_first_changed_commits(
        rewritten_workdir_with_pulls: RewrittenWorkdir) -> None:
    r = rewritten_workdir_with_pulls
    result = notify(r.workdir)
    text = result.support_request.read_text()
    assert "**Pull-request refs affected:** 1" in text and "refs/pull/1/head" in text
    assert all(c in text for c in r.first_changed_commits)
    assert str(r.remote) in text
    # Pull-request refs are the host's to purge: not in anyone's reset commands.
    notice = (r.workdir / "notices" / "alice-example-invalid.txt").read_text()
    assert "refs/pull" not in notice.split("KEEP YOUR CLONE")[1].split("SELF-CHECK")[0]
    # …but whoever committed to a pull request is told that ref changed.
    assert "* refs/pull/1/head" in (r.workdir / "notices" / "carol-example-invalid.txt").read_text()


def test_templates_can_be_overridden(rewritten_workdir: RewrittenWorkdir, tmp_path: Path) -> None:
    r = rewritten_workdir
    custom = tmp_path / "tpl"
    custom.mkdir()
    (custom / "notice.md.j2").write_text("Custom for {{ person.name }} by {{ deadline }}\n")
    notify(r.workdir, templates=custom, deadline="2027-01-31")
    assert (r.workdir / "notices" / "alice-example-invalid.md").read_text() == \
        "Custom for Alice Admin by 2027-01-31\n"
    assert "SAFE PATH" in (r.workdir / "notices" / "alice-example-invalid.txt").read_text()
    (custom / "notice.md.j2").write_text("{{ no_such_variable }}\n")
    with pytest.raises(UsageError, match="template"):
        notify(r.workdir, templates=custom)


def test_bad_roster_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "r.csv"
    bad.write_text("name,email\nNo Mail,\n")
    with pytest.raises(UsageError, match=":2: no valid email"):
        read_roster(bad)
    bad.write_text("who,where\nx,y\n")
    with pytest.raises(UsageError, match="header"):
        read_roster(bad)


def test_orphaned_lfs_objects_are_found_among_purged_blobs(tmp_path: Path) -> None:
    repo = tmp_path / "lfs.git"
    git.run(["init", "-q", "--bare", str(repo)])
    oid = "ab" * 32
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize 12345\n".encode()
    blob = git.out(["hash-object", "-w", "--stdin"], cwd=repo, input=pointer)
    other = git.out(["hash-object", "-w", "--stdin"], cwd=repo, input=b"plain file\n")
    assert _lfs_objects(repo, [blob, other]) == [{"oid": oid, "size": "12345"}]


def test_people_whose_addresses_share_a_file_name_each_get_a_notice(rewritten_workdir: RewrittenWorkdir,
                                                                   tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("name,email,role\nA Dot,a.b@example.invalid,dev\nA Dash,a-b@example.invalid,dev\n")
    notify(rewritten_workdir.workdir, roster=roster)
    texts = [p.read_text() for p in (rewritten_workdir.workdir / "notices").glob("a-b-example-invalid*.md")]
    assert len(texts) == 2 and any("Hello A Dot" in t for t in texts) and any("Hello A Dash" in t for t in texts)


def notices_snapshot(workdir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(workdir)): p.read_bytes() for p in (workdir / "notices").rglob("*") if p.is_file()}


def test_a_template_syntax_error_is_one_line_and_keeps_the_previous_notices(rewritten_workdir: RewrittenWorkdir,
                                                                              tmp_path: Path) -> None:
    r = rewritten_workdir
    notify(r.workdir)
    before = notices_snapshot(r.workdir)
    custom = tmp_path / "tpl"
    custom.mkdir()
    (custom / "notice.md.j2").write_text("Hello {{ person.name \n{% for x in %}\n")
    proc = subprocess.run([sys.executable, "-m", "sanitize.cli", "notify", "--workdir", str(r.workdir),
                           "--templates", str(custom)], capture_output=True, text=True)
    assert proc.returncode == 2 and "notice template error" in proc.stderr and "notice.md.j2" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert notices_snapshot(r.workdir) == before
    assert not [p for p in r.workdir.iterdir() if p.name.startswith("notices.")]  # no half-rendered leftovers


def test_path_like_names_stay_inside_the_notices_directory(rewritten_workdir: RewrittenWorkdir,
                                                           tmp_path: Path) -> None:
    r = rewritten_workdir
    roster = tmp_path / "roster.csv"
    roster.write_text("name,email,role\n../../etc/x,../../etc/x@example.invalid,dev\n"
                      "/etc/passwd,..@example.invalid,dev\n")
    for _ in range(2):  # and again: a re-run replaces the set, it does not trip over it
        result = notify(r.workdir, roster=roster)
    notices = (r.workdir / "notices").resolve()
    assert all(f.resolve().is_relative_to(notices) for f in result.files)
    assert not (tmp_path / "etc").exists() and not (r.workdir / "etc").exists()
    names = {f.name for f in result.files}
    assert "etc-x-example-invalid.md" in names and "example-invalid.md" in names


def test_the_roster_maps_several_addresses_to_one_person_and_drops_others(rewritten_workdir: RewrittenWorkdir,
                                                                          tmp_path: Path) -> None:
    r = rewritten_workdir
    roster = tmp_path / "roster.csv"
    roster.write_text("name,email,role,aliases\n"
                      "Alice Admin,alice@corp.invalid,lead,alice@example.invalid;ALICE.old@example.invalid\n"
                      "Carol (left),carol@example.invalid,drop,\n")
    result = notify(r.workdir, roster=roster)
    emails = sorted(p.email for p in result.collaborators)
    assert emails == ["alice@corp.invalid", "bob@example.invalid"]
    alice = next(p for p in result.collaborators if p.email == "alice@corp.invalid")
    assert "refs/heads/main" in alice.refs and alice.in_history  # her commits under the old address count
    notices = r.workdir / "notices"
    assert not list(notices.glob("alice-example-invalid*")) and not list(notices.glob("carol-*"))
    msg = email.message_from_bytes((notices / "alice-corp-invalid.eml").read_bytes(), policy=email.policy.default)
    assert msg["To"].addresses[0].addr_spec == "alice@corp.invalid"
    assert "dropped by the roster: 1" in (notices / "team-summary.md").read_text()


@pytest.mark.parametrize("name,mail", [
    ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com"),
    ("GitHub", "noreply@github.com"),
    ("web-flow", "web-flow@example.invalid"),
    ("pre-commit-ci[bot]", "66853113+pre-commit-ci[bot]@users.noreply.github.com"),
    ("Some One", "someone@users.noreply.github.com"),
])
def test_bots_and_no_reply_identities_are_not_people(name: str, mail: str) -> None:
    from sanitize.collaborator.notify import Collaborator

    assert Collaborator(name=name, email=mail).is_machine
    assert not Collaborator(name="Bob Builder", email="bob@example.invalid").is_machine


def test_a_bad_sender_is_refused_before_anything_is_replaced(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    notify(r.workdir)
    before = notices_snapshot(r.workdir)
    with pytest.raises(UsageError, match="--from"):
        notify(r.workdir, sender="Sec <sec@example.invalid>\r\nBcc: attacker@evil.invalid")
    assert notices_snapshot(r.workdir) == before


def test_the_readme_procedure_is_the_notice_procedure(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    notify(r.workdir)
    notice = (r.workdir / "notices" / "bob-example-invalid.md").read_text()
    printed = notice.split("## Keep your clone", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    documented = readme.split("## For collaborators", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    assert printed.replace(r.digest[:12], "DIGEST12") == documented



def test_the_published_commit_map_lists_only_the_changed_commits(rewritten_workdir: RewrittenWorkdir) -> None:
    # The workdir's map lists every commit; a notice carries only what migrate needs, whatever the history's size.
    r = rewritten_workdir
    notify(r.workdir)
    full = [line.split() for line in (r.workdir / "commit-map").read_text().splitlines()[1:]]
    changed = {old: new for old, new in full if old != new}
    assert changed and len(changed) < len(full)
    published = (r.workdir / "notices" / "publish" / "commit-map").read_text().splitlines()
    assert published[0].split() == ["old", "new"]
    assert dict(line.split() for line in published[1:]) == changed
    msg = email.message_from_bytes((r.workdir / "notices" / "bob-example-invalid.eml").read_bytes(),
                                   policy=email.policy.default)
    attached = {part.get_filename(): part.get_payload(decode=True) for part in msg.iter_attachments()}
    assert attached["commit-map"] == (r.workdir / "notices" / "publish" / "commit-map").read_bytes()
