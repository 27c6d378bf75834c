"""JSON-RPC 2.0 over HTTP: the dispatcher (pure), params, error codes, and the aiohttp server."""
