"""Catalog pages: the searchable service list, a service's Overview and Settings, and teams."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from catalog import selectors, services
from catalog.access import get_service_for_user
from catalog.forms import ServiceSettingsForm
from deployments import selectors as deployment_selectors


@require_GET
def service_list(request):
    """The catalog. htmx asks for #results while the user types, #catalog for facet clicks."""
    query = selectors.CatalogQuery.from_params(request.GET)
    page = selectors.catalog_page(query=query)
    base = reverse("catalog:service_list")
    for facet in page.facets:
        for option in facet.options:
            option.url = base + _query_with(request.GET, facet.name, option)
    template = "catalog/service_list.html"
    if request.htmx:
        template += "#results" if request.htmx.target == "results" else "#catalog"
    return render(
        request,
        template,
        {"page": page, "query": query, "sorts": selectors.SORTS},
    )


def _query_with(params, name: str, option) -> str:
    """The query string with facet `name` toggled to `option`, back on the first page."""
    params = params.copy()
    params.pop("after", None)
    if option.selected:
        params.pop(name, None)
    else:
        params[name] = option.value
    return f"?{params.urlencode()}" if params else ""


@require_GET
def service_detail(request, slug):
    """The Overview tab."""
    service = get_service_for_user(request.user, slug)
    deployments = list(deployment_selectors.deployments_for_service(service=service)[:10])
    active = deployment_selectors.active_deployment(service=service)
    overview = selectors.service_overview(service=service)
    for instance in overview["instances"]:
        instance.owned_resources = deployment_selectors.owned_resources(instance=instance)
        instance.api_routes = deployment_selectors.route_protection(instance=instance)
    can_change = service.owned_by(request.user)
    return render(
        request,
        "catalog/service_detail.html",
        {
            "service": service,
            "tab": "overview",
            **overview,
            "deployments": deployments,
            "deployment": active or (deployments[0] if deployments else None),
            # Where it runs nothing, owners get the way forward (deploy, promote, retry).
            "rows": deployment_selectors.environment_rows(
                service=service, instances=overview["instances"]
            )
            if can_change
            else [],
            "can_change": can_change,
        },
    )


@require_http_methods(["GET", "POST"])
def service_settings(request, slug):
    """The Settings tab: owners edit the catalog data (name, links, tags, dependencies...)."""
    service = get_service_for_user(request.user, slug, write=True)
    form = ServiceSettingsForm(request.POST or None, service=service)
    if request.method == "POST" and form.is_valid():
        try:
            services.service_update(service=service, user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, f"Saved the settings of {service.name}.")
            return redirect(service)
    return render(
        request,
        "catalog/service_settings.html",
        {"service": service, "tab": "settings", "form": form, "can_change": True},
        status=400 if form.errors else 200,
    )


@require_GET
def team_list(request):
    return render(request, "catalog/team_list.html", {"teams": selectors.team_list()})


@require_GET
def team_detail(request, slug):
    team = selectors.team_get(slug=slug)
    if team is None:
        raise Http404("No such team.")
    return render(
        request,
        "catalog/team_detail.html",
        {"team": team, **selectors.team_page(team=team)},
    )
