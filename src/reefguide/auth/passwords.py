"""Argon2id password hashing, run off the event loop."""

from __future__ import annotations

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Passwords:
    def __init__(self, *, time_cost: int, memory_kib: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        # Verified against when a login names no user, so both answers take as long.
        self._dummy_hash = self._hasher.hash("reefguide-dummy-password")

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hasher.hash, password)

    def hash_sync(self, password: str) -> str:
        return self._hasher.hash(password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when `password` matches; with no hash, spend the same time and say no."""
        target = password_hash or self._dummy_hash
        try:
            ok = await anyio.to_thread.run_sync(self._hasher.verify, target, password)
        except (VerificationError, InvalidHashError):
            return False
        return bool(ok) and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)
