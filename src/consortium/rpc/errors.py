"""JSON-RPC error codes, in one place (documented in docs/rpc.md).

The five codes from -32700 to -32603 are the JSON-RPC 2.0 specification's.
Application errors use positive codes 10001+, one per reason a client can act on;
each error message says what to fix.
"""

from __future__ import annotations

from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

# Application codes: the `code` attribute of chain.admission / txpool errors maps here.
APPLICATION_CODES: dict[str, int] = {
    "invalid_transaction": 10001,
    "bad_signature": 10002,
    "duplicate": 10003,
    "expired_block_limit": 10004,
    "block_limit_too_far": 10005,
    "nonce_reused": 10006,
    "wrong_chain": 10007,
    "txpool_full": 10008,
    "unknown_block": 10009,
    "unknown_transaction": 10010,
    "unknown_contract": 10011,
    "call_failed": 10012,
    "not_found": 10013,
    "permission_denied": 10014,
    "node_not_ready": 10015,
    "rejected": 10099,
}


class RpcError(Exception):
    """An error to return to the client as a JSON-RPC error object."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            err["data"] = self.data
        return err


class InvalidParams(RpcError):
    def __init__(self, message: str) -> None:
        super().__init__(INVALID_PARAMS, f"invalid params: {message}")


def application_error(kind: str, message: str, data: Any = None) -> RpcError:
    """An application error by its stable name (e.g. ``"txpool_full"``)."""
    return RpcError(APPLICATION_CODES.get(kind, APPLICATION_CODES["rejected"]), message, data)
