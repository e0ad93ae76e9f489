"""Deploy forms (create, update, scale, delete), the plan/confirm step and deployment pages."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from catalog import selectors as catalog_selectors
from catalog.access import get_deployment_for_user, get_instance_for_user, get_service_for_user
from catalog.services import SlugTaken
from costs import selectors as cost_selectors
from costs.panel import CostPanel
from deployments import kinds, live, selectors, services, timed
from deployments.forms.common import NAME_TAKEN
from deployments.guardrails import GuardrailViolation
from deployments.models import Deployment

REFUSALS = (services.DeploymentError, GuardrailViolation)


def _kind_or_404(kind: str) -> kinds.Kind:
    try:
        return kinds.get(kind)
    except ValueError:
        raise Http404("Slipway cannot deploy that kind of resource.") from None


@require_GET
def service_new_choose(request):
    """Pick what to create: one card per resource kind."""
    return render(request, "deployments/new_service.html", {"kinds": kinds.KINDS.values()})


@require_http_methods(["GET", "POST"])
def service_new(request, kind):
    """Create a service of `kind` and plan its first deployment."""
    spec_kind = _kind_or_404(kind)
    teams = catalog_selectors.teams_for_user(user=request.user)
    if not teams.exists():
        raise PermissionDenied("Join a team before creating services.")
    form = spec_kind.create_form(request.POST or None, request.FILES or None, teams=teams)
    cost = CostPanel(request, kind=kind)
    if cost.wanted:
        return cost.reply(request, form)
    if request.method == "POST" and form.is_valid() and cost.is_valid():
        data = form.cleaned_data
        try:
            deployment = services.service_launch(
                user=request.user,
                owner=data["owner"],
                slug=data["name"],
                kind=kind,
                environment=data["environment"],
                spec=form.spec(),
                code=data.get("code"),
                description=data.get("description", ""),
            )
        except REFUSALS as exc:
            form.add_error(None, str(exc))
        except SlugTaken:
            # Someone launched this name after the form's check: the form's own answer.
            form.add_error("name", NAME_TAKEN)
        else:
            cost.save(instance=deployment.instance, user=request.user)
            return redirect(deployment)
    return _form_page(
        request, form, title=f"New {spec_kind.label}", submit="Review plan", cost=cost
    )


def _form_page(request, form, *, title, submit, instance=None, danger=False, refusal="", cost=None):
    """The form page of a change; `refusal` says up front why it cannot go ahead."""
    return render(
        request,
        "deployments/spec_form.html",
        {
            "form": form,
            "title": title,
            "submit": submit,
            "instance": instance,
            "service": instance.service if instance else None,
            "danger": danger,
            "refusal": refusal,
            "cost": cost,
        },
        status=400 if form.errors or (cost and cost.has_errors()) else 200,
    )


def _plan_or_error(request, form, **plan_kwargs):
    """Plan from a valid form; on refusal put the reason on the form and return None."""
    try:
        return services.deployment_plan(user=request.user, **plan_kwargs)
    except services.NothingToChange as exc:
        messages.info(request, str(exc))
        return "nothing"
    except REFUSALS as exc:
        form.add_error(None, str(exc))
        return None


@require_http_methods(["GET", "POST"])
def instance_update(request, slug, environment):
    """Change any part of the spec of a deployed instance."""
    instance = get_instance_for_user(request.user, slug, environment, write=True)
    form_class = kinds.get(instance.service.kind).update_form
    if form_class is None or not instance.applied_spec:
        raise Http404("There is nothing deployed to update here.")
    form = form_class(request.POST or None, request.FILES or None, spec=instance.applied_spec)
    return _spec_change(request, form, instance, Deployment.Action.UPDATE, "Update")


@require_http_methods(["GET", "POST"])
def instance_scale(request, slug, environment):
    """Change only the scaling numbers (checked against the environment's guardrails)."""
    instance = get_instance_for_user(request.user, slug, environment, write=True)
    form_class = kinds.get(instance.service.kind).scale_form
    if form_class is None or not instance.applied_spec:
        raise Http404("There is nothing deployed to scale here.")
    form = form_class(request.POST or None, spec=instance.applied_spec)

    def time_it(deployment):
        hours = form.cleaned_data.get("revert_after_hours")
        if hours:
            timed.timed_revert_schedule(deployment=deployment, hours=hours)

    return _spec_change(
        request, form, instance, Deployment.Action.SCALE, "Scale", after_plan=time_it
    )


def _spec_change(request, form, instance, action, verb, after_plan=None):
    cost = CostPanel(request, kind=instance.service.kind, instance=instance)
    if cost.wanted:
        return cost.reply(request, form)
    if request.method == "POST" and form.is_valid() and cost.is_valid():
        spec = form.spec()
        code = form.cleaned_data.get("code")
        if code:
            spec = {**spec, "code_sha256": services.code_artifact_store(content=code).sha256}
        result = _plan_or_error(request, form, instance=instance, spec=spec, action=action)
        if result == "nothing":
            cost.save(instance=instance, user=request.user)
            return redirect(instance.service)
        if result is not None:
            cost.save(instance=instance, user=request.user)
            if after_plan is not None:
                after_plan(result)
            return redirect(result)
    title = f"{verb} {instance.service.name} in {instance.environment.name}"
    return _form_page(
        request, form, title=title, submit="Review plan", instance=instance, cost=cost
    )


@require_POST
def instance_reapply(request, slug, environment):
    """Plan the applied spec again: after drift, the plan shows exactly what changed in AWS."""
    instance = get_instance_for_user(request.user, slug, environment, write=True)
    if not instance.applied_spec:
        raise Http404("There is nothing deployed to re-apply here.")
    try:
        deployment = services.deployment_plan(
            instance=instance,
            spec=instance.applied_spec,
            user=request.user,
            action=Deployment.Action.UPDATE,
        )
    except services.NothingToChange as exc:
        messages.info(request, str(exc))
        return redirect("deployments:service_deployments", slug=slug)
    except REFUSALS as exc:
        messages.error(request, str(exc))
        return redirect("deployments:service_deployments", slug=slug)
    return redirect(deployment)


@require_http_methods(["GET", "POST"])
def instance_delete(request, slug, environment):
    """Tear down everything the instance owns, after the user types the service name."""
    from deployments.forms.common import DeleteForm

    instance = get_instance_for_user(request.user, slug, environment, write=True)
    form = DeleteForm(request.POST or None, expected=instance.service.slug)
    if request.method == "POST" and form.is_valid():
        result = _plan_or_error(
            request,
            form,
            instance=instance,
            spec=instance.applied_spec or {},
            action=Deployment.Action.DELETE,
        )
        if result == "nothing":
            return redirect(instance.service)
        if result is not None:
            return redirect(result)
    title = f"Delete {instance.service.name} from {instance.environment.name}"
    refusal = ""
    try:
        services.refuse_if_routed_to(instance)
    except services.RoutedTo as exc:
        refusal = str(exc)  # shown before the user types anything
    return _form_page(
        request,
        form,
        title=title,
        submit="Review teardown",
        instance=instance,
        danger=True,
        refusal=refusal,
    )


@require_GET
def deployment_detail(request, pk):
    """The deployment page; htmx polls its #deployment fragment while a worker may change it."""
    deployment = get_deployment_for_user(request.user, pk)
    template = "deployments/deployment_detail.html"
    context = selectors.deployment_page_context(deployment, request.user)
    if request.htmx:
        template += "#deployment"
    else:  # the fragment polled every 2 s leaves the cost out
        context["cost"] = cost_selectors.deployment_cost(deployment=deployment)
    response = render(request, template, context)
    if request.htmx and not deployment.is_polling:
        # Polling just saw the end: reload the whole page once, so everything around the
        # fragment (instance status, resources, buttons) is current too.
        response["HX-Refresh"] = "true"
    return response


@require_GET
def deployment_events(request, pk):
    """Server-sent events: the page's #deployment fragment, again after every change."""
    deployment = get_deployment_for_user(request.user, pk)
    user = request.user

    def render_fragment() -> tuple[str, bool]:
        current = get_deployment_for_user(user, deployment.pk)
        html = render_to_string(
            "deployments/deployment_detail.html#deployment",
            selectors.deployment_page_context(current, user),
            request=request,
        )
        return html, not current.is_polling

    release = live.stream_slot()
    if release is None:
        busy = HttpResponse("Too many live streams; the page polls instead.", status=503)
        busy["Retry-After"] = "10"
        return busy
    response = StreamingHttpResponse(
        live.event_stream(deployment.pk, render_fragment), content_type="text/event-stream"
    )
    response._resource_closers.append(release)  # Django calls these when the response closes
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


def _decision(action):
    """Build a POST-only view that applies `action(deployment=, user=)` and returns to the page."""

    @require_POST
    def view(request, pk):
        deployment = get_deployment_for_user(request.user, pk, write=True)
        try:
            result = action(deployment=deployment, user=request.user)
        except REFUSALS as exc:
            messages.error(request, str(exc))
            return redirect(deployment)
        return redirect(result)

    view.__name__ = f"deployment_{action.__name__.removeprefix('deployment_')}"
    return view


deployment_confirm = _decision(services.deployment_confirm)
deployment_approve = _decision(services.deployment_approve)
deployment_reject = _decision(services.deployment_reject)
deployment_cancel = _decision(services.deployment_cancel)
deployment_revert = _decision(services.deployment_revert)


@require_GET
def service_deployments(request, slug):
    """The Deployments tab: every deployment of the service, newest first."""
    service = get_service_for_user(request.user, slug)
    rows = selectors.environment_rows(service=service)
    return render(
        request,
        "deployments/service_deployments.html",
        {
            "service": service,
            "tab": "deployments",
            "deployments": selectors.deployments_for_service(service=service)[:100],
            "rows": rows,
            "removable": not any(row.deployed or row.busy or row.failed_create for row in rows),
            "can_change": service.owned_by(request.user),
        },
    )
