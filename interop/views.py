"""Catalog interop pages: Backstage import (staff) and export, discovery and adoption."""

from botocore.exceptions import BotoCoreError, ClientError
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from catalog import selectors as catalog_selectors
from catalog.models import Environment
from interop import apps_grouping, backstage, discovery
from interop.exporter import catalog_export
from interop.forms import AdoptForm, AppAdoptForm, DiscoveryForm, ImportForm
from interop.importer import ImportReport
from interop.jobs import import_job_create
from interop.selectors import import_job_for_user, import_jobs_recent
from portal.aws import error_message


@require_http_methods(["GET", "POST"])
def import_page(request):
    """Upload catalog-info.yaml files. Imports create teams and re-own services: staff only.

    The upload is stored and imported by a worker; the browser is sent to the job's page,
    which follows it (closing the page does not stop the import)."""
    if not request.user.is_staff:
        raise PermissionDenied("Only staff can import a Backstage catalog.")
    bound = request.method == "POST"
    form = ImportForm(request.POST if bound else None, request.FILES if bound else None)
    if bound and form.is_valid():
        files = [(f.name, f.read(f.size)) for f in form.cleaned_data["files"]]
        job = import_job_create(user=request.user, files=files)
        return redirect(job)
    return render(
        request,
        "interop/import.html",
        {
            "form": form,
            "max_documents": backstage.MAX_UPLOAD_DOCUMENTS,
            "recent": import_jobs_recent(user=request.user),
        },
        status=400 if form.errors else 200,
    )


@require_GET
def import_job(request, pk: int):
    """One upload's progress, then its report; htmx asks for the fragment while it runs."""
    job = import_job_for_user(user=request.user, pk=pk)
    report = ImportReport.from_dict(job.report) if job.status == job.Status.FINISHED else None
    template = "interop/import_job.html"
    if request.htmx:
        template += "#progress"
    return render(request, template, {"job": job, "report": report})


@require_GET
def export_yaml(request):
    """The whole catalog as Backstage entities (readable by every signed-in user)."""
    response = HttpResponse(catalog_export(), content_type="application/yaml; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="slipway-catalog-{stamp}.yaml"'
    return response


@require_GET
def discovery_page(request):
    """Resources in an environment's AWS account that Slipway does not manage."""
    form = DiscoveryForm(request.GET or None)
    environment = form.cleaned_data["environment"] if form.is_valid() else None
    if environment is None and not request.GET:
        environment = Environment.objects.first()
    found, error = [], ""
    if environment is not None:
        try:
            found = discovery.discover_unmanaged(environment=environment, actor=request.user)
        except (ClientError, BotoCoreError) as exc:
            error = f"Could not list resources in AWS: {error_message(exc)}"
    apps, found = apps_grouping.group_unmanaged(found)
    teams = catalog_selectors.teams_for_user(user=request.user)
    return render(
        request,
        "interop/discovery.html",
        {
            "form": form,
            "environment": environment,
            "found": found,
            "apps": apps,
            "error": error,
            "can_adopt": teams.exists(),
            "adopt_form": AdoptForm(teams=teams),
            "app_form": AppAdoptForm(teams=teams, initial={"environment": environment}),
        },
        status=400 if form.errors else 200,
    )


@require_POST
def adopt(request, environment):
    """Adopt one unmanaged resource into a team the user belongs to."""
    env, teams = _adoption_scope(request, environment)
    form = AdoptForm(request.POST, teams=teams)
    if form.is_valid():
        data = form.cleaned_data
        try:
            adopted = discovery.resource_adopt(
                environment=env,
                kind=data["kind"],
                name=data["name"],
                owner=data["owner"],
                slug=data["slug"],
                user=request.user,
                description=data["description"],
            )
        except ValidationError as exc:
            form.add_error(None, " ".join(exc.messages))
        except (ClientError, BotoCoreError) as exc:
            form.add_error("name", error_message(exc))
        else:
            service = adopted.instance.service
            messages.success(
                request,
                format_html(
                    'Adopted {} as <a href="{}">{}</a>.',
                    adopted.resource,
                    service.get_absolute_url(),
                    service.name,
                ),
            )
            return redirect(service)
    return _adopt_error(request, form, env, reverse("interop:adopt", args=[env.slug]))


def _adoption_scope(request, environment: str):
    """The environment in the URL (404 if unknown) and the teams the user may adopt into
    (403 for a user in no team)."""
    env = Environment.objects.filter(slug=environment).first()
    teams = catalog_selectors.teams_for_user(user=request.user)
    if env is None:
        raise Http404("No such environment.")
    if not teams.exists():
        raise PermissionDenied("Join a team before adopting resources.")
    return env, teams


def _adopt_error(request, form, environment, action: str):
    return render(
        request,
        "interop/adopt_error.html",
        {"form": form, "environment": environment, "action": action},
        status=400,
    )


@require_POST
def adopt_app(request, environment):
    """Adopt every service of one Copilot or Proton app environment into a team in one step."""
    env, teams = _adoption_scope(request, environment)
    form = AppAdoptForm(request.POST, teams=teams)
    if form.is_valid():
        data = form.cleaned_data
        try:
            instances = apps_grouping.app_adopt(
                environment=data["environment"],
                source=data["source"],
                app=data["app"],
                app_environment=data["app_environment"],
                owner=data["owner"],
                user=request.user,
                prefix=data["prefix"],
            )
        except ValidationError as exc:
            form.add_error(None, " ".join(exc.messages))
        except (ClientError, BotoCoreError) as exc:
            form.add_error(None, error_message(exc))
        else:
            links = format_html_join(
                ", ",
                '<a href="{}">{}</a>',
                ((i.service.get_absolute_url(), i.service.name) for i in instances),
            )
            messages.success(request, format_html("Adopted app {}: {}.", data["app"], links))
            url = reverse("interop:discovery")
            return redirect(f"{url}?environment={data['environment'].slug}")
    return _adopt_error(request, form, env, reverse("interop:adopt_app", args=[env.slug]))
