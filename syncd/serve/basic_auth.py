"""Basic auth for the web endpoints, with bcrypt kept off the event loop.

bcrypt is slow on purpose (a cost-12 check takes a quarter of a second), so it runs on a small
executor of its own: a burst of wrong passwords queues there while /healthz, /metrics and every
other handler keep answering. A verified credential is remembered for a short while, keyed by an
HMAC of user and password under a per-process random key (never the password itself), so a
dashboard polling every few seconds costs one bcrypt check a minute, not one per request.
Unknown users are checked against a dummy hash of the highest configured cost, so the time taken
does not tell who exists. Passwords over bcrypt's 72-byte limit are refused (401), not truncated.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import bcrypt

from syncd.clock import Clock, SystemClock
from syncd.serve.web_config import WebConfig, bcrypt_cost

__all__ = ["MAX_PASSWORD_BYTES", "BasicAuthenticator"]

MAX_PASSWORD_BYTES = 72  # bcrypt reads no further; a longer password would be silently truncated
CACHE_SECONDS = 60.0
CACHE_SIZE = 256
AUTH_THREADS = 2  # of two cores, at most two bcrypt checks at once: the loop's own threads stay free


class Verifier(Protocol):
    """Check a password against a bcrypt hash (bcrypt.checkpw, or a stand-in in tests)."""

    def __call__(self, password: bytes, hashed: bytes, /) -> bool:
        """Return True when the password matches."""
        ...


def _checkpw(password: bytes, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:
        return False  # a malformed hash or an over-long password: refused, never a 500


class BasicAuthenticator:
    """Verify `Authorization: Basic` headers against the web config's users."""

    def __init__(
        self,
        config: WebConfig,
        *,
        verify: Verifier = _checkpw,
        clock: Clock | None = None,
        executor: ThreadPoolExecutor | None = None,
    ) -> None:
        self.config = config
        self._users = dict(config.users)
        self._verify = verify
        self._clock = clock or SystemClock()
        self.executor = executor or ThreadPoolExecutor(max_workers=AUTH_THREADS, thread_name_prefix="syncd-auth")
        self._key = secrets.token_bytes(32)
        self._cache: OrderedDict[bytes, float] = OrderedDict()
        cost = max((bcrypt_cost(hashed) for hashed in self._users.values()), default=10)
        # Same cost as the real hashes, so an unknown user takes as long as a known one. A fresh
        # salt and a hash part no password produces: checkpw spends the full cost, then says no,
        # and building it costs nothing at start-up even at cost 16.
        self._dummy = bcrypt.gensalt(rounds=cost) + b"O" * 31

    def close(self) -> None:
        """Stop the auth threads (running checks finish first)."""
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def authorised(self, header: str) -> bool:
        """Return True when the header carries a configured user's password."""
        credentials = _credentials(header)
        if credentials is None:
            return False
        user, password = credentials
        if len(password) > MAX_PASSWORD_BYTES:
            return False
        fingerprint = hmac.new(self._key, user + b"\0" + password, hashlib.sha256).digest()
        if self._cached(fingerprint):
            return True
        hashed = self._users.get(user.decode("utf-8", "surrogateescape"))
        loop = asyncio.get_running_loop()
        if hashed is None:
            await loop.run_in_executor(self.executor, self._verify, password, self._dummy)
            return False
        ok = await loop.run_in_executor(self.executor, self._verify, password, hashed)
        if ok:
            self._remember(fingerprint)
        return ok

    def _cached(self, fingerprint: bytes) -> bool:
        expires = self._cache.get(fingerprint)
        if expires is None:
            return False
        if expires <= self._clock.monotonic():
            del self._cache[fingerprint]
            return False
        return True

    def _remember(self, fingerprint: bytes) -> None:
        self._cache[fingerprint] = self._clock.monotonic() + CACHE_SECONDS
        self._cache.move_to_end(fingerprint)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)


def _credentials(header: str) -> tuple[bytes, bytes] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or len(encoded) > 1024:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, colon, password = decoded.partition(b":")
    if not colon:
        return None
    return user, password
