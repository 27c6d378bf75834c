"""What operators need around a running node: metrics, health probes, logging, backups, process checks.

This package sits beside ``rpc`` (it reads a running :class:`~consortium.node.runtime.Node`
and serves HTTP), never below it: nothing in the node's core imports it.
"""
