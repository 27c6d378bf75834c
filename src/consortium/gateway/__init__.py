"""The evidence gateway: notarize thousands of items a second with one transaction per batch.

An organization runs it beside its node. It takes evidence items (a 32-byte commitment
and optional small metadata, consortium.evidence.item) over HTTP, makes each durable
before acknowledging it, seals batches into an RFC 6962 Merkle tree, anchors each
root with one ``notarize_batch`` transaction signed by the organization's account key,
tracks it to commit, and serves every item's proof (consortium.evidence.item_bundle).
Top layer: it may use the client SDK; nothing below the CLI imports it.
"""
