"""One clear line, and the contract's exit code, for the ways `syncd run` can fail to start serving."""

from __future__ import annotations

import errno
import socket
import ssl

__all__ = ["describe_start_failure"]

EXIT_RUNTIME, EXIT_CONFIG = 1, 2


def describe_start_failure(host: str, port: int, exc: OSError) -> tuple[str, int]:
    """Return the message and exit code for an OSError raised while starting the HTTP server.

    A host that does not resolve or is not this machine's, and TLS files that do not load, are
    configuration errors (exit 2); a port someone else holds is a runtime failure (exit 1): the
    same file works once the other process is gone.
    """
    where = f"listen {host}:{port}"
    if isinstance(exc, socket.gaierror):
        return f"error: {where}: cannot resolve host {host!r} ({exc.strerror})", EXIT_CONFIG
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or exc.strerror or "invalid certificate or key"
        return f"error: web config TLS files do not load: {reason}", EXIT_CONFIG
    if exc.errno == errno.EADDRINUSE:
        return f"error: {where}: the address is already in use (another syncd or exporter?)", EXIT_RUNTIME
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"error: {where}: the address is not one of this machine's", EXIT_CONFIG
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"error: {where}: permission denied (ports below 1024 need privileges)", EXIT_RUNTIME
    if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError) and exc.filename:
        return f"error: cannot read {exc.filename!r} (web config TLS file): {exc.strerror}", EXIT_CONFIG
    return f"error: {where}: {exc.strerror or exc}", EXIT_RUNTIME
