"""One clear line, exit 2, for a genesis file that cannot be read or is not a genesis: the same from every
command that trusts one (evidence verify, evidence report, evidence verifier-page; cli/evidence_cmd.read_genesis)."""

from __future__ import annotations

from pathlib import Path

import pytest

COMMANDS = {
    "verify": lambda f, g: ("evidence", "verify", f, "--proof", f, "--genesis", g),
    "report": lambda f, g: ("evidence", "report", f, "--proof", f, "--genesis", g, "--out", f + ".pdf"),
    "verifier-page": lambda f, g: ("evidence", "verifier-page", "--genesis", g, "--out", f + ".html"),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_missing_or_malformed_genesis_is_one_line_and_exit_2(cli, tmp_path: Path, command: str) -> None:
    evidence = tmp_path / "exhibit.txt"
    evidence.write_text("an exhibit\n")
    missing = tmp_path / "nowhere" / "genesis.toml"
    code, out, err = cli(*COMMANDS[command](str(evidence), str(missing)))
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [f"error: bad genesis file: {missing}: no such file "
                                        "(every node needs the chain's genesis.toml)"]

    bad = tmp_path / "genesis.toml"
    bad.write_text("[chain]\nchain_id = \n")
    code, out, err = cli(*COMMANDS[command](str(evidence), str(bad)))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: bad genesis file: ")
    assert not list(tmp_path.glob("exhibit.txt.*")), "nothing is written for a genesis that is refused"
