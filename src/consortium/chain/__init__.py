"""The single-process ledger: executes blocks against the Merkle state and commits them atomically."""
