"""P2P layer: admission-controlled TLS 1.3 connections between the chain's nodes.

Imports encoding and crypto only; the node layer builds a
:class:`TransportConfig` from its config and genesis and hands payloads to
:class:`Transport`.
"""

from consortium.network.config import PeerAddress, QueuePolicy, TransportConfig
from consortium.network.envelope import Envelope, MessageKind
from consortium.network.errors import (
    CertificateError,
    EnvelopeError,
    FrameError,
    FrameTooLarge,
    HelloError,
    NetworkError,
    PeerRefused,
    ProtocolError,
)
from consortium.network.peer import OnMessage, PeerInfo
from consortium.network.transport import Transport

__all__ = [
    "CertificateError", "Envelope", "EnvelopeError", "FrameError", "FrameTooLarge", "HelloError", "MessageKind",
    "NetworkError", "OnMessage", "PeerAddress", "PeerInfo", "PeerRefused", "ProtocolError", "QueuePolicy",
    "Transport", "TransportConfig",
]
