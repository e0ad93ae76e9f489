"""Deploy forms and the live deployment page."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from catalog import selectors as catalog_selectors
from catalog.models import Service
from deployments import selectors, services
from deployments.forms.lambda_ import LambdaServiceForm


@require_http_methods(["GET", "POST"])
def lambda_create(request):
    """Create a Lambda function service and its first deployment."""
    teams = catalog_selectors.teams_for_user(user=request.user)
    if not teams.exists():
        raise PermissionDenied("Join a team before creating services.")
    form = LambdaServiceForm(request.POST or None, request.FILES or None, teams=teams)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            deployment = services.service_launch(
                user=request.user,
                owner=data["owner"],
                slug=data["name"],
                kind=Service.Kind.LAMBDA,
                environment=data["environment"],
                spec=form.spec(),
                code=data["code"],
                description=data["description"],
            )
        except services.DeploymentConflict as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Deployment of {data['name']} queued.")
            return redirect(deployment.instance.service)
    status = 400 if form.errors else 200
    return render(request, "deployments/lambda_form.html", {"form": form}, status=status)


@require_GET
def deployment_detail(request, pk):
    """The deployment page; htmx polls its #deployment fragment until it is finished."""
    deployment = selectors.deployment_get(pk=pk)
    if deployment is None:
        raise Http404("No such deployment.")
    template = "deployments/deployment_detail.html"
    if request.htmx:
        template += "#deployment"
    return render(request, template, {"deployment": deployment})
