"""consortium: a permissioned consortium blockchain node for notarizing electronic evidence.

Layers, bottom to top (a lower layer never imports a higher one):

    encoding, crypto      canonical bytes, hashes, signatures, key files
    ledger                immutable transactions, blocks, receipts; list Merkle roots
    storage, state        LevelDB key-value store, block store; the Merkle state tree
    execution             executor and the gas-metered contract sandbox
    txpool                admission of pending transactions
    consensus             the pure PBFT core (no sockets, clocks or disk)
    network               mutual-TLS peer transport
    node                  wiring: drives consensus with the network, storage and clock
    rpc, cli              JSON-RPC server, client SDK, command line
"""

__version__ = "0.1.0"
