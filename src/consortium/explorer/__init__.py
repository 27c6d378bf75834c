"""The chain explorer: a read-only web UI served by the node under ``/explorer/`` of its RPC port.

* :mod:`~consortium.explorer.data`: what each page shows, read through the RPC layer's ``NodeApi``;
* :mod:`~consortium.explorer.app`: the aiohttp routes, Jinja2 templates and one live-update script.

Layering: beside the client, above rpc (it reads through rpc's ``NodeApi`` and builds proof
bundles with the evidence builder); the node's composition root (cli/node_cmd.py) mounts it.
"""

from consortium.explorer.app import PREFIX, Explorer, mount

__all__ = ["PREFIX", "Explorer", "mount"]
