"""Every bound and gas price of the contract runtime, in one place.

These numbers are consensus rules: two nodes with different values compute
different receipts. They are module constants (not configuration) for that
reason; only the per-transaction gas limit is an :class:`Executor` argument,
because it is a chain parameter chosen at genesis. docs/contracts.md carries
the same table for contract authors.
"""

from __future__ import annotations

# -- deploy-time bounds -------------------------------------------------------------------------
MAX_SOURCE_BYTES = 64 * 1024
"""Largest contract source (UTF-8 bytes)."""
MAX_AST_NODES = 40_000
"""Largest parsed contract (AST nodes), so validation and compilation stay cheap."""
MAX_AST_DEPTH = 100
"""Deepest syntax tree (operator chains, nested blocks and brackets): the validator and compiler
stay far below the fixed recursion budget they run with."""
MAX_LITERAL_LEN = 4096
"""Longest string or bytes literal in contract source."""

# -- run-time bounds on values ------------------------------------------------------------------
MAX_INT_BITS = 256
"""Integers live in (-2**256, 2**256); every arithmetic result is checked (canonical storage
narrows this further to [-2**63, 2**64-1])."""
INT_BOUND = 1 << MAX_INT_BITS
MAX_STR_LEN = 65_536
"""Longest str (characters) or bytes (bytes) a contract can build."""
MAX_COLLECTION_LEN = 10_000
"""Most elements a list or dict built by a contract can hold."""
MAX_NESTING = 32
"""Deepest list/dict nesting a comparison, formatting or encoding will look into (the same
depth the canonical encoding allows)."""
MAX_CALL_DEPTH = 32
"""Deepest chain of contract-function calls (recursion included)."""
MAX_INT_PARSE_LEN = 100
"""Longest string ``int()`` will parse (refused before parsing, never by CPython's own limit,
whose setting is per process)."""

# -- run-time bounds on effects -----------------------------------------------------------------
MAX_KEY_BYTES = 512
"""Largest encoded storage key."""
MAX_VALUE_BYTES = 64 * 1024
"""Largest encoded storage value."""
MAX_EVENTS_PER_TX = 64
MAX_EVENT_BYTES = 8 * 1024
"""Largest encoded event (name and fields)."""
MAX_EVENT_NAME_LEN = 64
MAX_OUTPUT_BYTES = 64 * 1024
"""Largest encoded return value."""
MAX_ERROR_LEN = 1024
"""Receipt error strings are cut to this length (ledger.receipt.MAX_ERROR_LEN)."""
MAX_NAME_LEN = 32
"""Longest registered contract name."""

# -- gas schedule -------------------------------------------------------------------------------
DEFAULT_GAS_LIMIT = 1_000_000
MAX_BLOCK_CACHE = 200_000
"""Committed-state reads the executor memoizes per block (a cap, so reads of many distinct
absent keys cannot grow memory without bound; results never depend on it)."""
"""Gas one transaction may use unless the chain configures another limit."""
G_TX = 100
"""Every transaction, before anything runs."""
G_DEPLOY = 2_000
G_DEPLOY_BYTE = 4
"""Per byte of source at deploy (parsing, validation and compilation are linear in it)."""
G_STATEMENT = 2
"""Per statement executed (charged per straight-line block)."""
G_LOOP = 2
"""Per loop iteration or comprehension element, on top of the statements in the body."""
G_CALL = 5
"""Per contract-function call."""
G_BUILTIN = 1
"""Per call of a provided function or method (plus any size-proportional part)."""
BYTES_PER_GAS = 32
"""Size-proportional work costs 1 gas per list/dict element, and 1 gas per this many bytes of
str/bytes, produced, copied, compared or walked (transaction arguments included)."""
G_STORAGE_READ = 50
G_STORAGE_READ_BYTE = 1
"""Per byte of encoded key and value read."""
G_STORAGE_WRITE = 200
G_STORAGE_WRITE_BYTE = 5
"""Per byte of encoded key and value written (deletes pay the key bytes)."""
G_EVENT = 50
G_EVENT_BYTE = 8
"""Per byte of an event's encoded fields: events land in receipts every node stores forever."""
G_OUTPUT_BYTE = 2
"""Per byte of the encoded return value (it lands in the receipt)."""

G_POW_BIT = 4
"""``**``: per bit of the exponent (one big-int squaring each)."""
G_HASH = 30
"""sha256(): base, plus 1 gas per BYTES_PER_GAS bytes hashed."""
G_NATIVE = 500
"""A method of the built-in name registry."""
