"""API key format and hashing, and the MCP toolsets a key may be configured with.

A key reads `apk_<prefix>_<secret>`: the 8-character prefix is stored in clear to find the
row, the whole key only as SHA-256. Keys carry 256 bits of randomness, so a fast hash is
safe here (no password-style stretching needed) and keeps authentication off the hot path.
"""

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from mcp_core.operations import ALL_TOOLSETS, registry

KEY_PREFIX = "apk"


@dataclass(frozen=True)
class GeneratedKey:
    plaintext: str
    prefix: str
    key_hash: str


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def generate_key() -> GeneratedKey:
    prefix = secrets.token_hex(4)
    plaintext = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    return GeneratedKey(plaintext=plaintext, prefix=prefix, key_hash=hash_key(plaintext))


def key_from_plaintext(plaintext: str) -> GeneratedKey:
    """For a key whose plaintext is fixed elsewhere (the demo key)."""
    prefix = split_prefix(plaintext)
    if prefix is None:
        raise ValueError("not an AskProAI API key")
    return GeneratedKey(plaintext=plaintext, prefix=prefix, key_hash=hash_key(plaintext))


def split_prefix(plaintext: str) -> str | None:
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 8 or not parts[2]:
        return None
    return parts[1]


def matches(plaintext: str, key_hash: str) -> bool:
    return hmac.compare_digest(hash_key(plaintext), key_hash)


def toolset_choices() -> list[str]:
    """What a key's toolsets may name: each service, or every one."""
    return [*registry.services(), ALL_TOOLSETS]


def unknown_toolsets(names: Iterable[str]) -> list[str]:
    return sorted(set(names) - set(toolset_choices()))
