"""A workflow's Executions tab: recent executions, one execution's history, start one."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from catalog.access import get_service_for_user
from catalog.models import Service
from monitoring import executions
from monitoring.views import _pick_instance


def _workflow(request, slug: str, *, write: bool = False):
    service = get_service_for_user(request.user, slug, write=write)
    if service.kind != Service.Kind.STEPFUNCTIONS:
        raise Http404("Only workflows have executions.")
    return service


@require_GET
def execution_list(request, slug):
    service = _workflow(request, slug)
    instance, instances = _pick_instance(request, service)
    context = {
        "service": service,
        "tab": "executions",
        "can_change": service.owned_by(request.user),
        "instance": instance,
        "instances": instances,
        "input_text": request.GET.get("input", "{}")[:2000],
    }
    if instance is not None and instance.applied_spec:
        context["page"] = executions.executions_recent(instance=instance)
    return render(request, "monitoring/executions.html", context)


@require_GET
def execution_detail(request, slug, name):
    service = _workflow(request, slug)
    instance, instances = _pick_instance(request, service)
    if instance is None:
        raise Http404("This workflow is not deployed anywhere.")
    events, error = executions.execution_history(instance=instance, name=name[:80])
    return render(
        request,
        "monitoring/execution_detail.html",
        {
            "service": service,
            "tab": "executions",
            "can_change": service.owned_by(request.user),
            "instance": instance,
            "instances": instances,
            "name": name,
            "events": events,
            "error": error,
        },
    )


@require_POST
def execution_start(request, slug):
    service = _workflow(request, slug, write=True)
    instance, _ = _pick_instance(request, service)
    if instance is None or not instance.applied_spec:
        raise Http404("This workflow is not deployed in that environment.")
    back = reverse("monitoring:executions", args=[slug]) + f"?env={instance.environment.slug}"
    try:
        started = executions.execution_start(
            instance=instance, user=request.user, input_text=request.POST.get("input", "")
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    messages.success(request, f"Started execution {started.name}.")
    return redirect(
        reverse("monitoring:execution_detail", args=[slug, started.name])
        + f"?env={instance.environment.slug}"
    )
