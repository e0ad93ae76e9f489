"""Personal API tokens: the secret is shown once, only its hash is kept."""

import hashlib

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """A bearer token that acts as its user in the JSON API until revoked.

    Tokens are 256-bit random strings, so a plain SHA-256 is enough to make a leaked database
    useless for calling the API (a slow password hash protects guessable secrets, not these).
    """

    PREFIX = "slw_"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What it is for, e.g. “CI deploys”.")
    # The first characters of the secret, so a user can tell their tokens apart.
    prefix = models.CharField(max_length=12)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()
