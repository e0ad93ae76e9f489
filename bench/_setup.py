"""Shared set-up for benchmarks: a PostgreSQL database, Redis db and emulator of their own.

Import this first: it sets the environment before Django loads its settings.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
# Scripts here are run as `python bench/x.py`, which puts bench/ first on the path; its
# catalog.py would then shadow the catalog app. Put the project root there instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
sys.path.insert(0, str(ROOT))
DB_NAME = os.environ.get("SLIPWAY_BENCH_DB", "slipway_bench")
os.environ.update(
    DJANGO_SETTINGS_MODULE="portal.settings",
    DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
    REDIS_URL=os.environ.get("SLIPWAY_BENCH_REDIS", "redis://127.0.0.1:6379/13"),
    CELERY_QUEUE="slipway-bench",
    CACHE_KEY_PREFIX="slipway-bench",
    SLIPWAY_DEPLOY_POLL_SECONDS="0.2",
    SLIPWAY_AWS_MAX_ATTEMPTS="3",
    LOG_LEVEL="WARNING",
    # Measure Slipway's own overhead, not AWS's published rate limits (API Gateway allows one
    # CreateDeployment per 5 s, which would dominate every figure).
    SLIPWAY_AWS_RATE_LIMITS="false",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def recreate_database() -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{DB_NAME}"')


def start_emulator():
    """Start `manage.py aws_emulator` on a free port; return (process, url)."""
    from portal import emulator

    port = free_port()
    url = emulator.emulator_url("127.0.0.1", port)
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "aws_emulator", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    emulator.wait_until_up(url, timeout=60)
    os.environ["AWS_ENDPOINT_URL"] = url
    return proc, url


def setup_django():
    import django

    recreate_database()
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def submit(user, team, env, kind, slug, overrides, confirm=True) -> int:
    """One deploy through the kind's create form and services.service_launch, as the web's POST
    does: the form validated (its owner team and environment read by it, as the view uses
    them), the plan (AWS read in this process) and, when `confirm`, the click that queues it."""
    from deployments import kinds, services

    teams = type(team).objects.filter(pk=team.pk)
    form_class = kinds.get(kind).create_form
    data = {**_blank_data(kind, team), "name": slug, "owner": team.pk, "environment": env.pk}
    form = form_class({**data, **overrides}, teams=teams)
    if not form.is_valid():
        raise SystemExit(f"{kind} form refused the bench spec: {form.errors.as_text()}")
    return services.service_launch(
        user=user,
        owner=form.cleaned_data["owner"],
        slug=slug,
        kind=kind,
        environment=form.cleaned_data["environment"],
        spec=form.spec(),
        code=form.cleaned_data.get("code"),
        confirm=confirm,
    ).pk


_BLANK: dict[str, dict] = {}


def _blank_data(kind: str, team) -> dict:
    """The kind's create form as the browser was shown it (its initial values), made once per
    kind: the page's GET, not part of the POST a deploy is."""
    if kind not in _BLANK:
        from deployments import kinds
        from portal.demo import _form_data

        teams = type(team).objects.filter(pk=team.pk)
        _BLANK[kind] = _form_data(kinds.get(kind).create_form(teams=teams), {})
    return _BLANK[kind]


def fixtures():
    """A user in a team and a "dev" environment; the bench queue emptied. (user, team, env)"""
    from django.contrib.auth import get_user_model

    from catalog import services as catalog_services
    from catalog.models import Environment
    from portal.celery import app

    user = get_user_model().objects.create_user("bench", password="bench-pass-123")
    team = catalog_services.team_create(slug="bench", name="Bench")
    catalog_services.membership_add(team=team, user=user)
    env = Environment.objects.create(slug="dev", name="Dev", aws_account_id="123456789012")
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(os.environ["CELERY_QUEUE"])
    return user, team, env
