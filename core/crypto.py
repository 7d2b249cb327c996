"""Encryption at rest for the few values held apart from the research data.

Reminder email addresses and resendable invitation links are personal contact details:
they are stored encrypted (Fernet: AES-128-CBC with an HMAC) under DATA_ENCRYPTION_KEY,
so a database dump or a backup does not reveal them without the key.
"""
from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

__all__ = ["InvalidToken", "decrypt", "encrypt"]


@lru_cache(maxsize=4)
def _fernet(key: str, secret_key: str) -> Fernet:
    if not key:
        # development only (production settings refuse an empty key): derived from the
        # development SECRET_KEY so that `make run` works without configuration
        key = base64.urlsafe_b64encode(hashlib.sha256(secret_key.encode()).digest()).decode()
    return Fernet(key.encode())


def _cipher() -> Fernet:
    return _fernet(settings.DATA_ENCRYPTION_KEY, settings.SECRET_KEY)


def encrypt(text: str) -> str:
    """The text encrypted under DATA_ENCRYPTION_KEY, as ASCII."""
    return _cipher().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    """The text back; raises InvalidToken if the value was tampered with or the key differs."""
    return _cipher().decrypt(token.encode()).decode()
