"""Bottom layer: the chain's crypto suite and key files. Imports only consortium.encoding."""

from consortium.crypto.keyfile import KeyFileError, load_key, save_key, write_secret_file
from consortium.crypto.suite import (
    ADDRESS_SIZE,
    DEFAULT_SUITE,
    HASH_SIZE,
    CryptoError,
    CryptoSuite,
    KeyPair,
    get_suite,
    sha256,
)

__all__ = [
    "ADDRESS_SIZE", "DEFAULT_SUITE", "HASH_SIZE", "CryptoError", "CryptoSuite", "KeyFileError",
    "KeyPair", "get_suite", "load_key", "save_key", "sha256", "write_secret_file",
]
