"""Monitoring pages of a service: Metrics (charts + alarms), Logs (viewer + live tail)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from catalog.access import get_service_for_user
from catalog.models import ServiceInstance
from monitoring import alarms, logs, queries, selectors, services
from monitoring.forms import LogFilterForm, ThresholdForm
from monitoring.models import AlarmRule
from portal.aws import error_message


def _instances(service):
    return list(service.instances.select_related("environment").order_by("environment__order"))


def _pick_instance(request, service):
    """The instance the page shows: ?env=<slug>, else the first environment it is in."""
    instances = _instances(service)
    wanted = request.GET.get("env", "")
    for instance in instances:
        if instance.environment.slug == wanted:
            return instance, instances
    if wanted:
        raise Http404("This service is not in that environment.")
    return (instances[0] if instances else None), instances


def _alarm_rows(instance):
    """Each managed alarm with its CloudWatch state; one DescribeAlarms call."""
    rules = list(instance.alarms.all())
    if not rules:
        return [], ""
    try:
        states = alarms.alarm_states(instance=instance)
    except Exception as exc:  # noqa: BLE001 — shown on the page, never a 500
        return [(rule, None, alarms.default_by_key(rule.key)) for rule in rules], error_message(exc)
    services.alarm_states_record(instance=instance, states=states)
    return [(r, states.get(r.alarm_name), alarms.default_by_key(r.key)) for r in rules], ""


@require_GET
def service_metrics(request, slug):
    service = get_service_for_user(request.user, slug)
    instance, instances = _pick_instance(request, service)
    context = {
        "service": service,
        "tab": "metrics",
        "embedded": selectors.embedded_mode(),
        "instance": instance,
        "instances": instances,
        "ranges": list(queries.RANGES),
        "can_change": service.owned_by(request.user),
    }
    if instance is not None:
        context["page"] = selectors.metrics_page(
            instance=instance, range_key=request.GET.get("range", queries.DEFAULT_RANGE)
        )
        if not request.htmx:
            context["alarm_rows"], context["alarm_error"] = _alarm_rows(instance)
    template = "monitoring/metrics.html"
    if request.htmx:
        template += "#charts"
    return render(request, template, context)


@require_POST
def alarm_threshold(request, pk):
    rule = get_object_or_404(AlarmRule.objects.select_related("instance__environment"), pk=pk)
    get_service_for_user(request.user, rule.instance.service.slug, write=True)
    form = ThresholdForm(request.POST)
    back = (
        reverse("monitoring:metrics", args=[rule.instance.service.slug])
        + f"?env={rule.instance.environment.slug}"
    )
    if not form.is_valid():
        messages.error(request, f"Threshold not changed: {form.errors['threshold'][0]}")
        return redirect(back)
    try:
        services.alarm_threshold_update(
            rule=rule, threshold=form.cleaned_data["threshold"], user=request.user
        )
    except ValidationError as exc:
        messages.error(request, f"Threshold not changed: {' '.join(exc.messages)}")
        return redirect(back)
    except Exception as exc:  # noqa: BLE001 — AWS refused; the old threshold stays
        messages.error(request, f"CloudWatch refused the change: {error_message(exc)}")
        return redirect(back)
    messages.success(request, f"{rule.alarm_name}: threshold is now {rule.threshold:g}.")
    return redirect(back)


@require_GET
def alarm_history(request, pk):
    rule = get_object_or_404(
        AlarmRule.objects.select_related("instance__environment", "instance__service"), pk=pk
    )
    service = get_service_for_user(request.user, rule.instance.service.slug)
    return render(
        request,
        "monitoring/alarm_history.html",
        {
            "service": service,
            "tab": "metrics",
            "rule": rule,
            "default": alarms.default_by_key(rule.key),
            "events": rule.events.select_related("actor")[:200],
        },
    )


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _ids(value: str) -> list[str]:
    return [v for v in value.split(",") if v][:500]


@require_GET
def service_logs(request, slug):
    service = get_service_for_user(request.user, slug)
    instance, instances = _pick_instance(request, service)
    form = LogFilterForm(request.GET or None)
    context = {
        "service": service,
        "tab": "logs",
        "can_change": service.owned_by(request.user),
        "instance": instance,
        "instances": instances,
        "form": form,
        "embedded": selectors.embedded_mode(),
    }
    if instance is not None and (form.is_valid() or not request.GET):
        data = form.cleaned_data if form.is_bound else {}
        context["range_key"] = data.get("range") or logs.DEFAULT_RANGE
        context["pattern"] = data.get("pattern", "")
        context["page"] = logs.logs_page(
            instance=instance,
            range_key=context["range_key"],
            pattern=context["pattern"],
            before=_int_or_none(request.GET.get("before")),
            skip=_ids(request.GET.get("skip", "")),
            token=request.GET.get("token", ""),
        )
    template = "monitoring/logs.html"
    if request.htmx and request.GET.get("before"):
        template += "#older"  # "load older" appends lines below the ones shown
    return render(request, template, context)


@require_GET
def service_logs_tail(request, slug):
    """New lines since the last one seen; polled by the page while live tail is on."""
    service = get_service_for_user(request.user, slug)
    instance, _ = _pick_instance(request, service)
    if instance is None:
        raise Http404("This service is not deployed anywhere.")
    since = _int_or_none(request.GET.get("since"))
    if since is None:
        raise Http404("Live tail needs a starting timestamp.")
    pattern = request.GET.get("pattern", "")[:1024]
    page = logs.logs_tail(
        instance=instance, since=since, seen=_ids(request.GET.get("seen", "")), pattern=pattern
    )
    return render(
        request,
        "monitoring/_tail.html",
        {"service": service, "instance": instance, "page": page, "pattern": pattern},
    )


@require_GET
def instance_summary(request, pk):
    """The summary strip of one instance (lazy-loaded by the partial when not cached)."""
    instance = get_object_or_404(
        ServiceInstance.objects.select_related("service__owner", "environment"), pk=pk
    )
    get_service_for_user(request.user, instance.service.slug)  # every signed-in user reads
    return render(
        request,
        "monitoring/_summary.html",
        {
            "instance": instance,
            "service": instance.service,
            "single": True,
            "compact": request.GET.get("compact") == "1",
            "summary": selectors.instance_summary(instance=instance),
        },
    )
