"""Shared fixtures: personas, the embedded AWS emulator, a real Celery worker, a network guard.

Integration tests talk to the emulator over HTTP (a `manage.py aws_emulator` subprocess) and to
real Redis and PostgreSQL; the guard fails any connection that leaves the machine.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from portal import aws, emulator

ROOT = Path(__file__).resolve().parent
LOOPBACK = ("127.", "::1", "localhost")


# --- network guard -------------------------------------------------------------------------------
_real_connect = socket.socket.connect


def _guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = str(address[0])
        if not host.startswith(LOOPBACK):
            raise RuntimeError(f"Tests may not connect outside this machine (tried {address})")
    return _real_connect(self, address)


@pytest.fixture(autouse=True, scope="session")
def _no_outbound_network():
    socket.socket.connect = _guarded_connect
    yield
    socket.socket.connect = _real_connect


# --- processes -----------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _child_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(DJANGO_SETTINGS_MODULE="portal.settings_test", PYTHONUNBUFFERED="1", **extra)
    return env


@pytest.fixture(scope="session")
def _emulator_process():
    """The embedded AWS emulator in its own process; yields its direct URL."""
    port = _free_port()
    url = emulator.emulator_url("127.0.0.1", port)
    log = open(ROOT / "var" / "test-emulator.log", "w")  # noqa: SIM115 — closed at teardown
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "aws_emulator", "--port", str(port)],
        cwd=ROOT,
        env=_child_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        emulator.wait_until_up(url, timeout=60)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)  # a loaded machine can take a while to stop its threads
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def fault_proxy(_emulator_process):
    """The fault-injecting proxy every test's AWS traffic goes through (see tests/faultproxy)."""
    from tests.faultproxy import FaultProxy

    proxy = FaultProxy(_emulator_process).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def aws_emulator(fault_proxy):
    """The AWS endpoint for tests (emulator behind the pass-through proxy); yields its URL.

    Both this process and the Celery worker point boto3 here, over real HTTP.
    """
    previous = settings.AWS_ENDPOINT_URL
    settings.AWS_ENDPOINT_URL = fault_proxy.url
    aws.reset_clients()
    yield fault_proxy.url
    settings.AWS_ENDPOINT_URL = previous
    aws.reset_clients()


@pytest.fixture
def faults(fault_proxy, aws_emulator):
    """Add fault rules for one test; they are cleared afterwards."""
    fault_proxy.clear()
    yield fault_proxy
    fault_proxy.clear()


@pytest.fixture
def aws_clean(aws_emulator):
    """A wiped emulator for tests that count or list resources."""
    emulator.reset(aws_emulator)
    return aws_emulator


class Worker:
    """A real Celery worker process on real Redis, against the test database."""

    def __init__(
        self,
        emulator_url: str,
        db_name: str,
        *,
        pool: str = "prefork",
        concurrency: int = 2,
        queue: str = "",
        name: str = "test",
        env: dict[str, str] | None = None,
    ):
        """`queue` (default the suite's): a worker of its own that no other test's work reaches;
        the tasks it enqueues itself go there too. `env`: more environment (settings)."""
        self.emulator_url = emulator_url
        self.db_name = db_name
        self.pool, self.concurrency, self.name = pool, concurrency, name
        self.queue = queue or settings.CELERY_TASK_DEFAULT_QUEUE
        self.env = env or {}
        self.proc: subprocess.Popen | None = None
        self.log_path = ROOT / "var" / f"{name}-worker.log"

    def start(self) -> None:
        db = settings.DATABASES["default"]
        database_url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{self.db_name}"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--pool",
                self.pool,
                "--concurrency",
                str(self.concurrency),
                "--queues",
                self.queue,
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                f"{self.name}-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=_child_env(
                AWS_ENDPOINT_URL=self.emulator_url,
                DATABASE_URL=database_url,
                CELERY_QUEUE=self.queue,
                **self.env,
            ),
            stdout=open(self.log_path, "a"),  # noqa: SIM115 — owned by the child
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so kill() takes the pool too
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        from portal.celery import app

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Celery worker exited; see {self.log_path}")
            replies = app.control.ping(timeout=0.5)
            mine = f"{self.name}-{os.getpid()}@"
            if any(name.startswith(mine) for r in replies for name in r):
                return
        raise TimeoutError(f"Celery worker did not start; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes, as when a machine dies: no ack, no cleanup."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, aws_emulator):
    """A real worker, started once; its queue is purged first so no old messages run."""
    from django.db import connection

    from portal.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)
    worker = Worker(aws_emulator, connection.settings_dict["NAME"])
    worker.start()
    yield worker
    worker.stop()
    # Close any connection the worker's children left behind, so the test database can be
    # dropped at the end of the session.
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [connection.settings_dict["NAME"]],
        )


def wait_for(predicate, timeout: float = 60, interval: float = 0.2, message: str = ""):
    """Poll `predicate` until it returns something truthy; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(message or f"Timed out after {timeout}s waiting for {predicate}")


# --- personas ------------------------------------------------------------------------------------
PASSWORD = "correct-horse-battery"


@pytest.fixture
def personas(db):
    """alice and bob in team payments, charlie in team search, a staff user; dev and prod."""
    from django.contrib.auth import get_user_model

    from catalog import services
    from catalog.models import Environment

    User = get_user_model()
    users = {
        name: User.objects.create_user(name, f"{name}@example.com", PASSWORD)
        for name in ("alice", "bob", "charlie")
    }
    users["staff"] = User.objects.create_user("staff", "staff@example.com", PASSWORD, is_staff=True)
    payments = services.team_create(slug="payments", name="Payments")
    search = services.team_create(slug="search", name="Search")
    services.membership_add(team=payments, user=users["alice"])
    services.membership_add(team=payments, user=users["bob"])
    services.membership_add(team=search, user=users["charlie"])
    dev = Environment.objects.create(slug="dev", name="Development", aws_account_id="123456789012")
    prod = Environment.objects.create(
        slug="prod",
        name="Production",
        aws_account_id="123456789012",
        requires_approval=True,
        order=1,
    )
    return {**users, "payments": payments, "search": search, "dev": dev, "prod": prod}


# --- building deployments the way users do (through services) -----------------------------------
LAMBDA_SOURCE = "def handler(event, context):\n    return 1\n"


def lambda_spec(**overrides) -> dict:
    """A small valid Lambda spec (without code: `launch_lambda` stores the package)."""
    spec = {
        "kind": "lambda",
        "runtime": "python3.12",
        "handler": "app.handler",
        "memory_size": 128,
        "timeout": 3,
        "architecture": "x86_64",
        "description": "",
        "environment": {},
    }
    spec.update(overrides)
    return spec


def launch_lambda(personas, slug, *, environment="dev", user="alice", confirm=True, **overrides):
    """Create a Lambda service owned by payments and plan (and by default confirm) it."""
    from deployments import services
    from deployments.forms.lambda_ import deterministic_zip

    return services.service_launch(
        user=personas[user],
        owner=personas["payments"],
        slug=slug,
        kind="lambda",
        environment=personas[environment],
        spec=lambda_spec(**overrides),
        code=deterministic_zip("app.py", LAMBDA_SOURCE),
        confirm=confirm,
    )


def finished_deployment(pk):
    """The deployment if it reached a final state, else None (for `wait_for`)."""
    from deployments.models import Deployment

    deployment = Deployment.objects.get(pk=pk)
    return deployment if deployment.is_finished else None


# --- form pages ----------------------------------------------------------------------------------
def field_errors(response, field: str) -> list[str]:
    """The errors the view's form holds for one field."""
    return response.context["form"].errors.get(field, [])


def field_html(response, field: str) -> str:
    """One field's rendered block (label, widget, help, errors): where the user is looking."""
    html = response.content.decode()
    return html.split(f'id="field-{field}"', 1)[1].split('<div class="field', 1)[0]


@pytest.fixture(autouse=True)
def _fresh_catalog_counts():
    """Each test starts with no catalog counts cached: a rolled-back database is not a catalog
    write, so nothing else would tell the cache (shared by the tests) that its counts are gone."""
    from catalog.facets import catalog_changed

    catalog_changed()
