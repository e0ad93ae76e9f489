"""Catalog pages: the searchable service list, a service's Overview and Settings, and teams."""

from urllib.parse import quote_plus

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import get_template
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from catalog import selectors, services
from catalog.access import get_service_for_user
from catalog.forms import ServiceSettingsForm
from deployments import selectors as deployment_selectors


@require_GET
def service_list(request):
    """The catalog. htmx asks for #results while the user types, #catalog for facet clicks.

    The page is rendered by Jinja2 templates (templates/jinja2/): they print its ~1,500 values
    several times faster than the Django template language, and its frame (a mirror of the
    site's Django frame, templates/base.html) in a tenth of the time.
    """
    query = selectors.CatalogQuery.from_params(request.GET)
    page = selectors.catalog_page(query=query)
    params = _QueryString(request.GET)
    base = reverse("catalog:service_list")
    for facet in page.facets:
        for option in facet.options:
            option.url = base + params.toggled(facet.name, option.value, option.selected)
    context = {
        "page": page,
        "rows": page.rows,
        "query": query,
        "sorts": selectors.SORTS,
        "urls": {
            "list": base,
            "team_list": reverse("catalog:team_list"),
            "first_page": base + params.replaced("after", None),
            "next_page": base + params.replaced("after", page.next_cursor),
        },
    }
    if request.htmx:
        fragment = "_results" if request.htmx.target == "results" else "_catalog"
        return HttpResponse(_jinja(f"catalog/{fragment}.html").render(context))
    return HttpResponse(_jinja("catalog/service_list.html").render(context, request))


def _jinja(name: str):
    return get_template(name, using="jinja2")


class _QueryString:
    """The catalog's query string with one parameter changed, encoded as QueryDict does (and as
    `{% querystring %}` does for the pager), without copying a QueryDict per facet option."""

    def __init__(self, params):
        self.given = bool(params)
        self.items = list(params.lists())

    def _changed(self, name: str, value: str | None, items) -> list:
        if value is None:
            return [(k, values) for k, values in items if k != name]
        if any(k == name for k, _ in items):
            return [(k, [value] if k == name else values) for k, values in items]
        return [*items, (name, [value])]

    @staticmethod
    def _encode(items) -> str:
        return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, values in items for v in values)

    def toggled(self, name: str, value: str, selected: bool) -> str:
        """A facet option's link: back on the first page, the option set (or removed)."""
        items = self._changed("after", None, self.items)
        items = self._changed(name, None if selected else value, items)
        return f"?{self._encode(items)}" if items else ""

    def replaced(self, name: str, value: str | None) -> str:
        """As `{% querystring name=value %}` (None removes it)."""
        items = self._changed(name, value, self.items)
        if not items and not self.given:
            return ""
        return f"?{self._encode(items)}"


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
