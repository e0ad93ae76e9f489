"""A timed scale-up's buttons: extend the window, or cancel the automatic revert."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from catalog.access import get_deployment_for_user
from deployments import timed
from deployments.errors import DeploymentError


@require_POST
def timed_revert_extend(request, pk):
    deployment = get_deployment_for_user(request.user, pk, write=True)
    try:
        hours = int(request.POST.get("hours") or 0)
        timed.timed_revert_extend(deployment=deployment, user=request.user, hours=hours)
    except ValueError:
        messages.error(request, "Give a whole number of hours.")
    except DeploymentError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"The revert now happens at {deployment.revert_at:%Y-%m-%d %H:%M} UTC."
        )
    return redirect(deployment)


@require_POST
def timed_revert_cancel(request, pk):
    deployment = get_deployment_for_user(request.user, pk, write=True)
    try:
        timed.timed_revert_cancel(deployment=deployment, user=request.user)
    except DeploymentError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "The scale stays: it will not be reverted automatically.")
    return redirect(deployment)
