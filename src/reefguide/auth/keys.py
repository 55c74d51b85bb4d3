"""The RSA key pair that signs access tokens: from the environment, or generated once
into the data directory."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from reefguide.settings import Settings


@dataclass(frozen=True)
class KeyPair:
    private_key: rsa.RSAPrivateKey
    public_key: rsa.RSAPublicKey
    key_id: str

    def private_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def public_pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_jwk(public_key: rsa.RSAPublicKey) -> dict[str, str]:
    numbers = public_key.public_numbers()
    return {"kty": "RSA", "n": _b64url_uint(numbers.n), "e": _b64url_uint(numbers.e)}


def thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """The RFC 7638 JWK thumbprint: a stable key id derived from the key itself."""
    canonical = json.dumps(public_jwk(public_key), sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def generate_key_pair() -> KeyPair:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_key = private_key.public_key()
    return KeyPair(private_key, public_key, thumbprint(public_key))


def _pem(value: str) -> bytes:
    # .env files often carry PEMs on one line with literal "\n".
    return value.replace("\\n", "\n").strip().encode()


def key_pair_from_pem(private_pem: str, public_pem: str | None, key_id: str | None) -> KeyPair:
    private_key = serialization.load_pem_private_key(_pem(private_pem), password=None)
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise ValueError("JWT_PRIVATE_KEY is not an RSA private key")
    public_key = private_key.public_key()
    if public_pem:
        given = serialization.load_pem_public_key(_pem(public_pem))
        if not isinstance(given, rsa.RSAPublicKey) or given.public_numbers() != public_key.public_numbers():
            raise ValueError("JWT_PUBLIC_KEY does not match JWT_PRIVATE_KEY")
    return KeyPair(private_key, public_key, key_id or thumbprint(public_key))


def load_or_create_key_pair(settings: Settings) -> KeyPair:
    """JWT_* settings when given; otherwise the pair in the data directory, made on first use."""
    if settings.jwt_private_key:
        return key_pair_from_pem(settings.jwt_private_key, settings.jwt_public_key, settings.jwt_key_id)
    key_dir = Path(settings.data_dir) / "keys"
    private_path = key_dir / "jwt-private.pem"
    if not private_path.exists():
        key_dir.mkdir(parents=True, exist_ok=True)
        pair = generate_key_pair()
        tmp = private_path.with_suffix(".tmp")
        tmp.write_text(pair.private_pem())
        tmp.chmod(0o600)
        tmp.replace(private_path)
        (key_dir / "jwt-public.pem").write_text(pair.public_pem())
        return pair
    return key_pair_from_pem(private_path.read_text(), None, settings.jwt_key_id)
