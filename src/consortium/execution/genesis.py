"""The state writes of the genesis block's contracts: the evidence contract under the name ``evidence``.

The contract sources live in the repository's ``contracts/`` directory; the
genesis block records them in state (``cd/`` + code hash), so nodes never need
the files again after block 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from consortium.crypto.suite import ADDRESS_SIZE, DEFAULT_SUITE, CryptoSuite
from consortium.execution.context import BlockContext
from consortium.execution.executor import Executor, GenesisContract
from consortium.execution.keys import GENESIS_DEPLOYER, contract_address

CONTRACTS_DIR = Path(__file__).resolve().parents[3] / "contracts"
EVIDENCE_NAME = "evidence"


def evidence_address(suite: CryptoSuite = DEFAULT_SUITE) -> bytes:
    """Where genesis deploys the evidence contract on a chain of ``suite`` (an address is a hash,
    so it depends on the chain's suite); it is also reachable as name_address("evidence", suite)."""
    return contract_address(GENESIS_DEPLOYER, 0, suite)


EVIDENCE_ADDRESS = evidence_address()
"""The evidence contract's address on a chain of the default suite (every chain today)."""
_GENESIS_GAS = 50_000_000


def contract_source(name: str) -> str:
    """Source of ``contracts/<name>.py``."""
    path = CONTRACTS_DIR / f"{name}.py"
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"contract source {path} not found (contracts/ ships with the repository)") from None


def genesis_writes(
    *,
    arbitrators: Sequence[bytes] = (),
    chain_id: str = "",
    group_id: str = "",
    timestamp: int = 0,
    evidence_source: str | None = None,
    suite: CryptoSuite = DEFAULT_SUITE,
) -> dict[bytes, bytes | None]:
    """State writes that deploy the genesis contracts: ``evidence`` with ``arbitrators`` registered from
    the start. The evidence contract has no administrator: governance alone changes its registry.
    Addresses and code hashes are computed under the chain's ``suite``.

    Raises ValueError for malformed addresses and GenesisError if the contract refuses them.
    """
    for a in arbitrators:
        if not isinstance(a, bytes) or len(a) != ADDRESS_SIZE:
            raise ValueError(f"genesis arbitrators must be {ADDRESS_SIZE}-byte addresses, got {a!r}")
    source = evidence_source if evidence_source is not None else contract_source(EVIDENCE_NAME)
    ctx = BlockContext(chain_id=chain_id, group_id=group_id, number=0, timestamp=timestamp)
    contract = GenesisContract(EVIDENCE_NAME, source, (list(arbitrators),))
    result = Executor(gas_limit_per_tx=_GENESIS_GAS, suite=suite).deploy_genesis(ctx, [contract])
    return result.writes
