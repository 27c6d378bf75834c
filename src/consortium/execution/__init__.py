"""Contract execution: a sandboxed, gas-metered Python subset and the block executor.

Layering: depends on encoding, crypto and ledger only. State is read through a
:class:`StateReader` and written by the caller from :attr:`BlockResult.writes`.
See docs/contracts.md for the language and docs/design.md §8 for the design.
"""

from consortium.execution.compiler import CompiledContract, check_contract, code_hash, compile_contract
from consortium.execution.context import BlockContext
from consortium.execution.errors import ContractRejected
from consortium.execution.executor import BlockResult, CallResult, Executor, GenesisContract, GenesisError
from consortium.execution.genesis import EVIDENCE_ADDRESS, EVIDENCE_NAME, contract_source, genesis_writes
from consortium.execution.keys import (
    GENESIS_DEPLOYER,
    REGISTRY_ADDRESS,
    ContractRecord,
    contract_address,
    name_address,
)
from consortium.execution.overlay import DictReader, StateReader

__all__ = [
    "EVIDENCE_ADDRESS", "EVIDENCE_NAME", "GENESIS_DEPLOYER", "REGISTRY_ADDRESS", "BlockContext", "BlockResult",
    "CallResult", "CompiledContract", "ContractRecord", "ContractRejected", "DictReader", "Executor",
    "GenesisContract", "GenesisError", "StateReader", "check_contract", "code_hash", "compile_contract",
    "contract_address", "contract_source", "genesis_writes", "name_address",
]
