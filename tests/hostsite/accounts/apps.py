"""Accounts app of the host site."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """The host site's users."""

    name = "accounts"
    default_auto_field = "django.db.models.AutoField"
