"""Playbook parsing: relative paths resolve against the playbook, bad input is one clear UsageError."""

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sanitize.errors import UsageError
from sanitize.playbook import config as playbook_config


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "purge.yml"
    p.write_text(text)
    return p


def test_minimal_playbook_resolves_paths_against_its_directory(tmp_path: Path) -> None:
    p = write(tmp_path, "source: ./origin.git\nworkdir: ./.sanitize/purge\napprovals: {required: 2, unsigned: true}\n"
                        "notify: {roster: roster.csv, deadline: '2026-12-01'}\nrotate: rotation.yml\n")
    pb = playbook_config.load(p)
    assert pb.source == str(tmp_path / "origin.git")
    assert pb.remote == pb.source
    assert pb.workdir == tmp_path / ".sanitize" / "purge"
    assert pb.approvals_required == 2
    assert pb.notify.roster == tmp_path / "roster.csv"
    assert pb.notify.deadline == "2026-12-01"
    assert pb.rotate == tmp_path / "rotation.yml"


def test_url_sources_are_kept_verbatim(tmp_path: Path) -> None:
    pb = playbook_config.load(write(tmp_path, "source: git://127.0.0.1:9418/app.git\nworkdir: w\n"
                                              "approvals: {unsigned: true}\n"))
    assert pb.source == "git://127.0.0.1:9418/app.git"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("source: [unclosed\n", "malformed YAML"),
        ("- a\n- b\n", "must be a YAML mapping"),
        ("workdir: w\n", "missing required key 'source'"),
        ("source: s\n", "missing required key 'workdir'"),
        ("rotate: r.yml\nrotate_mode: sometimes\n", "rotate_mode"),
        ("source: s\nworkdir: w\nsurce: typo\n", "unknown key 'surce'"),
        ("source: s\nworkdir: w\napprovals: {required: 0}\n", "approvals.required"),
        ("source: s\nworkdir: w\nnotify: {deadline: tomorrow}\n", "notify.deadline"),
        ("source: s\nworkdir: w\nnotify: {rooster: r.csv}\n", "unknown key notify.'rooster'"),
    ],
)
def test_bad_playbooks_are_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        playbook_config.load(write(tmp_path, text))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_playbook(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such playbook"):
        playbook_config.load(tmp_path / "nope.yml")


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from([*sorted(playbook_config._TOP_KEYS), "x"]), yaml_values, max_size=6))
def test_any_document_parses_or_raises_usage_error(doc: dict) -> None:
    try:
        playbook_config.parse(yaml.safe_load(yaml.safe_dump(doc)), Path("/tmp/pb.yml"))
    except UsageError as exc:
        assert "\n" not in str(exc)


def test_non_string_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown key '1'"):
        playbook_config.load(write(tmp_path, "source: s\nworkdir: w\n1: x\n"))


def test_rotation_only_playbook_defaults_to_scheduled(tmp_path: Path) -> None:
    pb = playbook_config.load(write(tmp_path, "rotate: rotation.yml\ndue: true\n"))
    assert not pb.is_purge
    assert pb.rotate_mode == "scheduled" and pb.due


@pytest.mark.parametrize("name", ["coordinated-purge.yml", "scheduled-rotation.yml"])
def test_shipped_playbooks_parse(name: str) -> None:
    from importlib.resources import files

    pb = playbook_config.load(Path(str(files("sanitize") / "playbooks" / name)))
    assert pb.rotate is not None
