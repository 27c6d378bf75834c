"""Storage layer: the KV interface (LevelDB via plyvel; in-memory for unit tests) and the block store."""

from consortium.storage.kv import KVStore, LevelDBStore, MemoryStore, StorageError, WriteBatch

__all__ = ["KVStore", "LevelDBStore", "MemoryStore", "StorageError", "WriteBatch"]
