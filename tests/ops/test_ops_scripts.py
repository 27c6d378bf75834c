"""The scripts tell the truth: --help everywhere, demo.sh deletes only its own folders, and
start_all/stop_all judge each node by its own pid and by who really holds its ports."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.cluster.harness import pid_alive
from tests.ops.opskit import new_chain, script, start_node, stop_process, wait_port

SCRIPTS = ["build_chain.sh", "start_all.sh", "stop_all.sh", "demo.sh", "test.sh"]


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_script_answers_help_and_does_nothing_else(name: str, tmp_path: Path) -> None:
    r = script(name, "--help", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Usage: scripts/" + name in r.stdout
    assert "--help" not in r.stdout.replace("scripts/test.sh --help-pytest", "")  # once: "all nodes of --help stopped"
    assert list(tmp_path.iterdir()) == []  # demo.sh --help once ran `rm -rf --help` and built a chain


@pytest.mark.parametrize("name", ["start_all.sh", "stop_all.sh"])
def test_start_and_stop_refuse_a_missing_folder_or_an_unknown_option(name: str, tmp_path: Path) -> None:
    r = script(name, str(tmp_path / "nope"))
    assert r.returncode == 2 and "is not a folder" in r.stderr
    r = script(name, "--force")
    assert r.returncode == 2 and "unknown option --force" in r.stderr


def test_demo_leaves_a_folder_it_did_not_create_untouched(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("four years of work")
    r = script("demo.sh", str(precious))
    assert r.returncode == 2
    assert "was not created by demo.sh" in r.stderr
    assert (precious / "thesis.txt").read_text() == "four years of work"
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep")
    r = script("demo.sh", str(a_file))
    assert r.returncode == 2 and a_file.read_text() == "keep"
    r = script("demo.sh", str(tmp_path / "a"), str(tmp_path / "b"))
    assert r.returncode == 2 and "at most one argument" in r.stderr


def test_demo_runs_and_replaces_only_its_own_earlier_folder(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    r = script("demo.sh", str(demo), timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "original file: VERIFIED (exit 0); one byte changed: NOT VERIFIED (exit 1)" in r.stdout
    assert (demo / ".demo-chain").exists()
    stale = demo / "left-from-last-time"
    stale.write_text("x")
    # A second run may delete the folder: the marker says demo.sh made it.
    r = script("demo.sh", str(demo), timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert f"removing {demo} (made by an earlier demo.sh run)" in r.stdout
    assert not stale.exists()


def test_start_all_and_stop_all_are_not_fooled_by_a_node_started_by_hand(tmp_path: Path) -> None:
    chain = tmp_path / "chain"
    bases = new_chain(chain)
    # Someone started node2 by hand earlier; it serves node2's ports.
    hand = start_node(chain / "node2" / "config.toml", "--log-file", str(tmp_path / "hand.log"))
    try:
        wait_port(bases["rpc"] + 2)
        r = script("start_all.sh", str(chain), "30")
        assert r.returncode == 1, r.stdout + r.stderr
        assert f"node2's rpc port 127.0.0.1:{bases['rpc'] + 2} is already in use by pid {hand.pid}" in r.stderr
        assert "answers" not in r.stdout
        # What start_all started, it stopped again: no pid files, no processes on those ports.
        for i in (0, 1):
            assert not (chain / f"node{i}" / "node.pid").exists()
        r = script("stop_all.sh", str(chain), "10")
        assert r.returncode == 1, r.stdout + r.stderr
        assert f"still held by pid {hand.pid}" in r.stderr
        assert "all nodes" not in r.stdout
        assert hand.poll() is None  # stop_all never kills what it did not start

        # A stale pid file naming some other live process (here: this test) is not obeyed either.
        (chain / "node1" / "node.pid").write_text(str(os.getpid()))
        r = script("stop_all.sh", str(chain), "10")
        assert f"pid {os.getpid()} in node.pid is not this node" in r.stderr
        assert pid_alive(os.getpid())
    finally:
        stop_process(hand)
    r = script("stop_all.sh", str(chain), "10")
    assert r.returncode == 0, r.stderr
    assert "no node of" in r.stdout
