"""Catalog pages: the service list and a service's page."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from catalog import selectors
from catalog.access import get_service_for_user
from deployments import selectors as deployment_selectors


@require_GET
def service_list(request):
    search = request.GET.get("q", "").strip()
    services = selectors.service_list(search=search)
    template = "catalog/service_list.html"
    if request.htmx:
        template += "#results"
    return render(
        request,
        template,
        {"services": services, "search": search, "environments": selectors.environments()},
    )


@require_GET
def service_detail(request, slug):
    service = get_service_for_user(request.user, slug)
    deployments = deployment_selectors.deployments_for_service(service=service)[:20]
    active = deployment_selectors.active_deployment(service=service)
    return render(
        request,
        "catalog/service_detail.html",
        {
            "service": service,
            "instances": selectors.service_instances(service=service),
            "deployments": deployments,
            "deployment": active or (deployments[0] if deployments else None),
            "can_change": service.owned_by(request.user),
        },
    )
