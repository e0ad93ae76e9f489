"""Demo services for embedded mode, deployed through the normal path (forms → plan → worker).

`make run` calls this once the web server is up: a Lambda function, an ECS service behind the
shared load balancer and an API in front of the Lambda, owned by the demo team in `dev`. Each
is built from its kind's own create form, so the demo goes through the same validation a user
does. Services that already exist are left alone.
"""

from __future__ import annotations

import logging
import time

from portal.aws import is_emulator

log = logging.getLogger(__name__)

DEMO_SERVICES = [
    (
        "hello",
        "lambda",
        {"description": "Says hello. Demo Lambda function.", "runtime": "python3.12"},
    ),
    (
        "orders",
        "ecs",
        {
            "description": "Takes orders. Demo ECS Fargate service.",
            "image": "public.ecr.aws/nginx/nginx:1.27",
            "lb_value": "/orders/*",
            "desired_count": 2,
        },
    ),
    (
        "public-api",
        "apigateway",
        {
            "description": "The public API. Demo API Gateway REST API.",
            "routes": "GET /hello -> hello",
        },
    ),
]


def _form_data(form, overrides: dict) -> dict:
    data = {}
    for name, field in form.fields.items():
        initial = field.initial() if callable(field.initial) else field.initial
        if initial is not None:
            data[name] = getattr(initial, "pk", initial)
    data.update(overrides)
    return data


def demo_services_launch(*, user, team, environment, wait_seconds: float = 60) -> list[str]:
    """Plan and confirm each missing demo service; returns what was launched or why not."""
    from catalog.models import Service
    from deployments import kinds, services
    from deployments.models import Deployment

    if not is_emulator():
        raise RuntimeError("Demo services are for the embedded emulator only.")
    teams = type(team).objects.filter(pk=team.pk)
    report = []
    for slug, kind, overrides in DEMO_SERVICES:
        if Service.objects.filter(slug=slug).exists():
            report.append(f"{slug}: already in the catalog")
            continue
        blank = kinds.get(kind).create_form(teams=teams)
        data = _form_data(
            blank,
            {"name": slug, "owner": team.pk, "environment": environment.pk, **overrides},
        )
        form = kinds.get(kind).create_form(data, teams=teams)
        if not form.is_valid():
            report.append(f"{slug}: not launched ({form.errors.as_text()})")
            continue
        deployment = services.service_launch(
            user=user,
            owner=team,
            slug=slug,
            kind=kind,
            environment=environment,
            spec=form.spec(),
            code=form.cleaned_data.get("code"),
            description=form.cleaned_data.get("description", ""),
            confirm=True,
        )
        report.append(f"{slug}: deployment #{deployment.pk} queued")
        # The API routes to hello, so let each finish before the next one is validated.
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            deployment.refresh_from_db()
            if deployment.status in Deployment.FINISHED:
                break
            time.sleep(0.5)
    return report
