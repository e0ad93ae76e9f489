"""The API tokens page (under the user menu): create a token (its secret shown once), revoke."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from api import services
from api.models import ApiToken
from portal import forms as portal_forms


class TokenForm(portal_forms.Form):
    name = forms.CharField(max_length=100, help_text="What it is for, e.g. “CI deploys”.")


@require_http_methods(["GET", "POST"])
@never_cache  # Cache-Control: no-store: the page may show a new secret, once
def token_list(request):
    form = TokenForm(request.POST if request.method == "POST" else None)
    secret = None
    if request.method == "POST" and form.is_valid():
        try:
            token, secret = services.token_create(user=request.user, name=form.cleaned_data["name"])
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            form = TokenForm()
            messages.success(request, f"Token “{token.name}” created. Copy it now.")
    tokens = ApiToken.objects.filter(user=request.user)
    return render(
        request,
        "api/token_list.html",
        {"form": form, "tokens": tokens, "secret": secret},
        status=400 if form.errors else 200,
    )


@require_POST
def token_revoke(request, pk):
    # Only the owner's own tokens are found here, so another user's token id answers 404.
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    services.token_revoke(token=token, user=request.user)
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("api:token_list")
