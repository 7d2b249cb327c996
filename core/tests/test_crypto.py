"""Contact details are encrypted at rest and cannot be read or altered without the key."""
import pytest
from cryptography.fernet import Fernet

from core.crypto import InvalidToken, decrypt, encrypt


def test_a_value_is_not_stored_in_clear_and_comes_back():
    token = encrypt("patient@example.org")
    assert "patient@example.org" not in token and "example" not in token
    assert decrypt(token) == "patient@example.org"


def test_another_key_cannot_read_it(settings):
    token = encrypt("patient@example.org")
    settings.DATA_ENCRYPTION_KEY = Fernet.generate_key().decode()
    with pytest.raises(InvalidToken):
        decrypt(token)


def test_a_tampered_value_is_refused():
    token = encrypt("patient@example.org")
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(InvalidToken):
        decrypt(tampered)
