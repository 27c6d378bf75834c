"""Typed errors of the P2P layer.

Every decoder of bytes that come off a socket raises only a subclass of
:class:`ProtocolError`, so a connection handler needs one ``except`` to turn
any malformed input into "log the reason, close the connection".
"""

from __future__ import annotations


class NetworkError(Exception):
    """Base of everything the network layer raises on purpose."""


class ProtocolError(NetworkError, ValueError):
    """A peer sent bytes that break the wire protocol; the connection is closed."""


class FrameError(ProtocolError):
    """A frame header or frame stream is malformed."""


class FrameTooLarge(FrameError):
    """A frame header announces more bytes than the configured maximum."""


class EnvelopeError(ProtocolError):
    """A frame payload is not a valid envelope."""


class PeerRefused(NetworkError):
    """A peer failed admission (certificate, revocation or hello); ``reason`` is a short tag."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class CertificateError(NetworkError, ValueError):
    """A certificate or key file is missing, malformed or does not name a node."""


class HelloError(ProtocolError):
    """The first frame of a connection is not a valid hello."""
