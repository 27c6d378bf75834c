"""What Byzantine sealers can do that honest code never does: include transactions whose
signatures they did not check. Used to build the blocks the offline verifier must refuse."""

from __future__ import annotations

from consortium.chain.admission import ChainIdentity
from consortium.chain.edge import VerifiedTx, verify_transaction
from consortium.chain.ledger import Ledger
from consortium.crypto.suite import CryptoSuite
from consortium.ledger.transaction import Transaction


class _NoCheckSuite(CryptoSuite):
    """The chain's suite, except that every signature "verifies"."""

    def __init__(self, inner: CryptoSuite) -> None:
        self._inner = inner
        self.name = inner.name
        self.public_key_size = inner.public_key_size
        self.signature_size = inner.signature_size
        self.secret_size = inner.secret_size

    def hash(self, data: bytes) -> bytes:
        return self._inner.hash(data)

    def sign(self, secret: bytes, message: bytes) -> bytes:
        return self._inner.sign(secret, message)

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        return True

    def public_key(self, secret: bytes) -> bytes:
        return self._inner.public_key(secret)

    def new_secret(self) -> bytes:
        return self._inner.new_secret()


def unchecked(tx: Transaction, ledger: Ledger) -> VerifiedTx:
    """``tx`` as a VerifiedTx with neither its signature nor its chain checked (the edge run with a
    lying suite, for whatever chain the transaction names)."""
    chain = ChainIdentity(tx.chain_id, tx.group_id, ledger.chain.block_limit_window)
    return verify_transaction(tx, chain, _NoCheckSuite(ledger.suite))
