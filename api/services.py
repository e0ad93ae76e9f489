"""Creating, revoking and checking personal API tokens; each write is audited."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from api.models import ApiToken
from audit.services import audit_record

MAX_ACTIVE_TOKENS = 20
# Writing last_used_at on every request would turn each API read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_TOKEN_LENGTH = 200  # longer is no token of ours: refused before any lookup


def token_create(*, user, name: str, source: str = "web") -> tuple[ApiToken, str]:
    """Make a token for `user`; returns the row and the secret (shown once, never stored)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the token a name."})
    if ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_ACTIVE_TOKENS:
        raise ValidationError(
            {"name": f"You already have {MAX_ACTIVE_TOKENS} active tokens; revoke one first."}
        )
    raw = ApiToken.PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name, prefix=raw[:10], token_hash=ApiToken.hash(raw))
    token.full_clean()
    token.save()
    audit_record(
        actor=user,
        action="api_token.create",
        target=token,
        after={"name": token.name, "prefix": token.prefix},
        source=source,
    )
    return token, raw


def token_revoke(*, token: ApiToken, user, source: str = "web") -> ApiToken:
    """Revoke a token: its owner or staff may. Revoking twice is harmless."""
    if not (user.is_staff or token.user_id == user.pk):
        audit_record(
            actor=user, action="api_token.revoke", target=token, result="denied", source=source
        )
        raise PermissionDenied("You can only revoke your own tokens.")
    if token.revoked_at is None:
        updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        token.refresh_from_db()
        if updated:
            audit_record(
                actor=user,
                action="api_token.revoke",
                target=token,
                before={"active": True},
                after={"active": False},
                source=source,
            )
    return token


def token_authenticate(*, raw: str):
    """The user a presented secret belongs to, or None (unknown, revoked, inactive user)."""
    if not raw or not raw.startswith(ApiToken.PREFIX) or len(raw) > MAX_TOKEN_LENGTH:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=ApiToken.hash(raw), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
