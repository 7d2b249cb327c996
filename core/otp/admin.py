"""django-otp registers its device models in the admin with its own permissions. Every
admin page here follows the role policy (core.admin.DataManagerOnly, enforced by
tests/test_security_admin.py), so django-otp's pages are taken out; DeviceAdmin below is
the data managers' page: view, and delete to reset a user's
second factor (lost phone): the next sign-in asks them to set up a new authenticator."""
from __future__ import annotations

from django.contrib import admin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.admin import ReadOnly

for model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


class DeviceAdmin(ReadOnly, admin.ModelAdmin):
    """A user's authenticator or recovery codes: no key, no code shown."""

    allow_delete = True  # deleting a user's devices resets their second factor
    list_display = ["user", "name", "confirmed", "created_at", "last_used_at"]
    list_filter = ["confirmed"]
    search_fields = ["user__username"]
    fields = ["user", "name", "confirmed", "created_at", "last_used_at"]


admin.site.register(TOTPDevice, DeviceAdmin)
admin.site.register(StaticDevice, DeviceAdmin)
