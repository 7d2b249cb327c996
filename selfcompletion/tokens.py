"""Link tokens and short codes: made, normalised and hashed in one place."""
from __future__ import annotations

import hashlib
import secrets

# 32 bytes: a 43-character URL-safe token with 256 bits of randomness.
TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 64
# No 0/O, 1/I/L: a code read off a card and typed on a phone is not misread.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(typed: str) -> str:
    """What a patient typed, without spaces or dashes, in capitals."""
    return "".join(ch for ch in typed.upper() if ch not in " -")[:CODE_LENGTH * 2]


def grouped_code(code: str) -> str:
    """ABCDE-FGHJK: two groups of five are easier to read off a card."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def digest(secret: str) -> str:
    """SHA-256 of a token or code: the stored lookup key (the secret itself is not)."""
    return hashlib.sha256(secret.encode()).hexdigest()
