"""Portal-wide views: health check and the home redirect."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from portal import ratelimit
from portal.forms import AuthenticationForm


@require_GET
@login_not_required
def healthz(request):
    """Liveness + database check for load balancers; no login, no secrets."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@require_GET
def home(request):
    return redirect("catalog:service_list")


class LoginView(auth_views.LoginView):
    """Django's sign-in page with Slipway's form (control characters refused next to the field)
    and a limit on failed sign-ins per client address across usernames (password spraying).

    django-axes locks one username on one address after a few failures; this counts every
    failure from an address in a window (LOGIN_ADDRESS_FAILURE_LIMIT per
    LOGIN_ADDRESS_WINDOW_SECONDS, in Redis) and answers 429 once it is reached.
    """

    authentication_form = AuthenticationForm

    def _bucket(self) -> str:
        return f"login-failures:{self.request.META.get('REMOTE_ADDR', '')}"

    def post(self, request, *args, **kwargs):
        count, ttl = ratelimit.failures(name=self._bucket())
        if count >= settings.LOGIN_ADDRESS_FAILURE_LIMIT:
            wait = ttl or settings.LOGIN_ADDRESS_WINDOW_SECONDS
            response = render(
                request,
                "registration/address_locked.html",
                {"minutes": max(1, round(wait / 60))},
                status=429,
            )
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        ratelimit.failure_add(name=self._bucket(), window=settings.LOGIN_ADDRESS_WINDOW_SECONDS)
        return super().form_invalid(form)
