"""The Python SDK for applications: ``Client`` (async) and ``SyncClient``."""

from consortium.client.sdk import Client, ClientError, ReceiptTimeout, RpcCallError, SyncClient

__all__ = ["Client", "ClientError", "ReceiptTimeout", "RpcCallError", "SyncClient"]
