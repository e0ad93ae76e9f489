"""Pages for a service's first deploy to an environment (imported or promoted), retrying a
failed first create, and removing a service that runs nowhere (see deployments/lifecycle.py)."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from catalog.access import get_deployment_for_user, get_service_for_user
from catalog.models import Environment, Team
from costs.panel import CostPanel
from deployments import kinds, lifecycle
from deployments.forms.common import DeleteForm
from deployments.views import REFUSALS, _form_page


@require_http_methods(["GET", "POST"])
def instance_deploy(request, slug, environment):
    """Deploy a service to an environment where it runs nothing yet.

    With `?from=<environment>` (a promotion, e.g. dev → prod) the kind's full form starts from
    the spec running there; without it (a service imported from Backstage), the kind's create
    form starts with the service's name and owner filled in. Either way the next page is the
    plan to confirm, and environments that need approval get it.
    """
    service = get_service_for_user(request.user, slug, write=True)
    target = get_object_or_404(Environment, slug=environment)
    error = lifecycle.deploy_target_error(service=service, environment=target)
    if error:
        messages.error(request, error)
        return redirect("deployments:service_deployments", slug=slug)
    kind = kinds.get(service.kind)
    source = None
    if request.GET.get("from"):
        source = service.instances.filter(
            environment__slug=request.GET["from"], applied_spec__isnull=False
        ).first()
        if source is None or kind.update_form is None:
            raise Http404("The service does not run in that environment.")
    data, files = request.POST or None, request.FILES or None
    if source is not None:
        form = kind.update_form(
            data, files, spec=lifecycle.promotion_spec(source=source, environment=target)
        )
        title = f"Promote {service.name} from {source.environment.name} to {target.name}"
    else:
        form = kind.create_form(data, files, teams=Team.objects.filter(pk=service.owner_id))
        form.for_existing(service=service, environment=target)
        title = f"Deploy {service.name} to {target.name}"
    cost = CostPanel(request, kind=service.kind, environment=target)
    if cost.wanted:
        return cost.reply(request, form)
    if request.method == "POST" and form.is_valid() and cost.is_valid():
        try:
            deployment = lifecycle.instance_first_deploy(
                service=service,
                environment=target,
                spec=form.spec(),
                code=form.cleaned_data.get("code"),
                user=request.user,
            )
        except REFUSALS as exc:
            form.add_error(None, str(exc))
        else:
            cost.save(instance=deployment.instance, user=request.user)
            return redirect(deployment)
    return _form_page(request, form, title=title, submit="Review plan", cost=cost)


@require_POST
def deployment_retry(request, pk):
    """Plan a failed first create's spec again; the plan page follows, as for any change."""
    deployment = get_deployment_for_user(request.user, pk, write=True)
    try:
        planned = lifecycle.deployment_retry(deployment=deployment, user=request.user)
    except REFUSALS as exc:
        messages.error(request, str(exc))
        return redirect(deployment)
    return redirect(planned)


@require_http_methods(["GET", "POST"])
def service_remove(request, slug):
    """Delete a service that runs nowhere (a failed first create, or torn down everywhere).

    If AWS still holds something for it, the answer is a teardown plan to confirm first.
    """
    service = get_service_for_user(request.user, slug, write=True)
    blockers = lifecycle.removal_blockers(service=service)
    form = DeleteForm(request.POST or None, expected=service.slug)
    form.fields[
        "confirm_name"
    ].help_text = (
        "The service leaves the catalog; anything AWS still holds for it is torn down first."
    )
    if request.method == "POST" and not blockers and form.is_valid():
        try:
            teardown = lifecycle.service_remove(service=service, user=request.user)
        except REFUSALS as exc:
            form.add_error(None, str(exc))
        else:
            if teardown is not None:
                messages.info(
                    request,
                    "AWS still holds resources of this service: confirm their teardown, then "
                    "delete the service.",
                )
                return redirect(teardown)
            messages.success(request, f"Deleted {service.slug} from the catalog.")
            return redirect("catalog:service_list")
    return render(
        request,
        "deployments/service_remove.html",
        {"service": service, "form": form, "blockers": blockers, "tab": "deployments"},
        status=400 if form.errors else 200,
    )
