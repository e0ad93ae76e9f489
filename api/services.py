"""Creating, revoking and checking personal API tokens; each write is audited."""

from __future__ import annotations

import copy
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from api.models import ApiToken
from audit.services import audit_record
from portal import ratelimit

MAX_ACTIVE_TOKENS = 20
# Writing last_used_at on every request would turn each API read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_TOKEN_LENGTH = 200  # longer is no token of ours: refused before any lookup

# Who a token is, remembered by each process so an API call needs no SQL for it. An entry is
# used only while the Redis counter TOKENS_CHANGED (read in the rate limit's round trip, see
# api/auth.py) still holds the value it was read under; revoking a token, and saving or deleting
# any user or token, bump it (`tokens_changed`), so a revoked token or a deactivated user is
# refused by every process on its next call. KNOWN_SECONDS bounds an entry's life should a bump
# ever be lost (Redis down at that moment).
TOKENS_CHANGED = "api-tokens-changed"
KNOWN_SECONDS = 60.0
KNOWN_MAX = 1000


@dataclass
class _Known:
    counter: str
    expires: float  # time.monotonic()
    token_pk: int
    last_used_at: datetime | None
    user: object  # a copy is handed to each request (its caches are the request's own)


_known: dict[str, _Known] = {}


def tokens_changed() -> None:
    """Forget every remembered token, in every process: now, and again when the transaction
    commits (a process that re-read the token in between would otherwise keep the old row)."""
    _known.clear()
    ratelimit.counter_bump(TOKENS_CHANGED)
    transaction.on_commit(lambda: ratelimit.counter_bump(TOKENS_CHANGED))


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
            tokens_changed()
            audit_record(
                actor=user,
                action="api_token.revoke",
                target=token,
                before={"active": True},
                after={"active": False},
                source=source,
            )
    return token


def token_authenticate(*, raw: str, counter: str | None = None, digest: str | None = None):
    """The user a presented secret belongs to, or None (unknown, revoked, inactive user).

    `counter`: the value of TOKENS_CHANGED read just before (api/auth.py); with it, a token
    seen under the same value is answered from memory. Without it (Redis down), SQL answers.
    `digest`: ApiToken.hash(raw), when the caller has it already.
    """
    if not raw or not raw.startswith(ApiToken.PREFIX) or len(raw) > MAX_TOKEN_LENGTH:
        return None
    digest = digest or ApiToken.hash(raw)
    now = timezone.now()
    known = _known.get(digest) if counter is not None else None
    if known is not None and known.counter == counter and known.expires > time.monotonic():
        _mark_used(known, now)
        return copy.copy(known.user)
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=digest, revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        _known.pop(digest, None)
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    if counter is not None:
        if len(_known) >= KNOWN_MAX:
            _known.clear()
        _known[digest] = _Known(
            counter=counter,
            expires=time.monotonic() + KNOWN_SECONDS,
            token_pk=token.pk,
            last_used_at=token.last_used_at,
            user=copy.copy(token.user),
        )
    return token.user


def _mark_used(known: _Known, now: datetime) -> None:
    """Stamp last_used_at at most once a LAST_USED_RESOLUTION per token, as an uncached call
    would (one conditional UPDATE: another process may have stamped it already)."""
    if known.last_used_at is not None and now - known.last_used_at <= LAST_USED_RESOLUTION:
        return
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ApiToken.objects.filter(stale, pk=known.token_pk).update(last_used_at=now)
    known.last_used_at = now
