"""Portal-wide views: health check and the home redirect."""

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

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
    """Django's sign-in page with Slipway's form (control characters refused next to the field)."""

    authentication_form = AuthenticationForm
