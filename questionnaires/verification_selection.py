"""Which completed nurse-keyed forms wait for a second keying (verification_models).

The choice is deterministic: SHA-256 of the seed and the form's id, read as a number in
[0, 1), against the setting's fraction. The same form is chosen again under the same
setting (reproducible, testable), and about `fraction` of the forms are chosen.
Self-completed answers (tablet, link) are the patient's own: they need no second keying.
"""
from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser

from .models import Administration, AdministrationSource
from .verification_models import KeyingMode, KeyingSetting, KeyingVerification

SETTING_PK = 1


def keying_setting() -> KeyingSetting:
    """The study's setting, or (until a data manager saves one) the defaults of
    settings.VERIFIED_KEYING_* (read only: nothing is written)."""
    stored = KeyingSetting.objects.filter(pk=SETTING_PK).first()
    if stored is not None:
        return stored
    return KeyingSetting(pk=SETTING_PK, mode=settings.VERIFIED_KEYING_MODE,
                         fraction=settings.VERIFIED_KEYING_FRACTION,
                         seed=settings.VERIFIED_KEYING_SEED)


def selection_draw(administration_id: int, seed: str) -> float:
    """A number in [0, 1), fixed for the form and the seed."""
    digest = hashlib.sha256(f"{seed}:{administration_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def is_selected(administration_id: int, setting: KeyingSetting) -> bool:
    if setting.mode == KeyingMode.ALL:
        return True
    if setting.mode == KeyingMode.FRACTION:
        return selection_draw(administration_id, setting.seed) < setting.fraction
    return False


def _rule(setting: KeyingSetting) -> str:
    if setting.mode == KeyingMode.FRACTION:
        return f"fraction {setting.fraction:g}, seed {setting.seed}"[:100]
    return str(setting.mode)


def verification_start(*, administration: Administration, by: AbstractBaseUser | None
                       ) -> KeyingVerification | None:
    """Called by administration_save when a nurse-keyed form is first completed (in its
    transaction): the form waits for a second keying if the setting chooses it."""
    if administration.source != AdministrationSource.NURSE:
        return None
    setting = keying_setting()
    if not is_selected(administration.pk, setting):
        return None
    verification, _ = KeyingVerification.objects.get_or_create(
        administration=administration, defaults={"first_keyer": by, "rule": _rule(setting)})
    return verification
