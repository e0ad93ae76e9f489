"""Eight people (or beat runs) take the same transition at the same instant, on PostgreSQL.

Each request runs in its own thread with its own database connection, released together by a
barrier. Exactly one wins: one status change, one audit row saying so, one run enqueued; the
others get a message saying it is too late and write nothing that claims success.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from api.services import token_create
from audit.models import AuditEvent
from catalog.models import ServiceInstance
from conftest import finished_deployment, launch_lambda, wait_for
from deployments import engine, services, tasks
from deployments.models import Deployment, DeploymentStep

N = 8
S = Deployment.Status
pytestmark = pytest.mark.django_db(transaction=True)


def race(call, n: int = N) -> list:
    """Run `call(i)` in n threads released at once; each result, or the exception it raised."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = call(i)
        except Exception as exc:  # noqa: BLE001 — returned to the test to inspect
            results[i] = exc
        finally:
            connection.close()  # each thread had its own connection

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a racing request never finished"
    return results


@pytest.fixture
def enqueued(monkeypatch) -> list[int]:
    """Deployment ids handed to the queue (recorded instead of sent; no worker here)."""
    sent: list[int] = []
    monkeypatch.setattr(tasks.run_deployment, "delay", sent.append)
    return sent


def clients_for(user, n: int = N) -> list[Client]:
    clients = [Client() for _ in range(n)]
    for client in clients:
        client.force_login(user)
    return clients


def post_all(user, name: str, deployment: Deployment) -> list:
    """N concurrent POSTs of one button; returns (status code, [messages]) per request."""
    clients = clients_for(user)
    url = reverse(f"deployments:{name}", args=[deployment.pk])

    def click(i: int):
        response = clients[i].post(url)
        return response.status_code, [str(m) for m in get_messages(response.wsgi_request)]

    return race(click)


def split(results: list) -> tuple[list, list]:
    """(winners, losers): a winner was redirected with no error message."""
    for result in results:
        assert not isinstance(result, Exception), result
        assert result[0] == 302, result
    winners = [r for r in results if not r[1]]
    losers = [r for r in results if r[1]]
    return winners, losers


def audit_count(deployment: Deployment, action: str) -> int:
    return AuditEvent.objects.filter(
        action=action, target_type="deployments.deployment", target_id=str(deployment.pk)
    ).count()


def awaiting(personas, slug: str) -> Deployment:
    deployment = launch_lambda(personas, slug, environment="prod", confirm=False)
    return services.deployment_confirm(deployment=deployment, user=personas["alice"])


@pytest.mark.parametrize(("environment", "to"), [("dev", S.QUEUED), ("prod", S.AWAITING_APPROVAL)])
def test_confirm(personas, aws_emulator, enqueued, environment, to):
    deployment = launch_lambda(personas, "race-confirm", environment=environment, confirm=False)
    winners, losers = split(post_all(personas["alice"], "confirm", deployment))
    assert len(winners) == 1 and len(losers) == N - 1
    assert all(
        m
        == [
            f"Too late: this deployment is {to.label.lower()} now, so it can no longer be "
            "confirmed."
        ]
        for _, m in losers
    )
    deployment.refresh_from_db()
    assert deployment.status == to
    assert audit_count(deployment, "deployment.create.confirm") == 1
    assert enqueued == ([deployment.pk] if to == S.QUEUED else [])
    expected = "deploying" if to == S.QUEUED else "not_deployed"
    assert ServiceInstance.objects.get(pk=deployment.instance_id).status == expected


@pytest.mark.integration
def test_confirm_runs_the_deployment_once(personas, aws_clean, celery_worker):
    """The issue's report: eight Confirms ran one create three times. Now: one run."""
    deployment = launch_lambda(personas, "race-run", confirm=False)
    winners, _ = split(post_all(personas["alice"], "confirm", deployment))
    assert len(winners) == 1
    done = wait_for(lambda: finished_deployment(deployment.pk), message="deployment never ended")
    assert done.status == S.SUCCEEDED, done.error
    assert done.attempts == 1
    creates = DeploymentStep.objects.filter(
        deployment=done, name__startswith="Create Lambda function"
    )
    assert creates.count() == 1
    assert audit_count(done, "deployment.create.confirm") == 1
    assert audit_count(done, "deployment.succeeded") == 1
    assert ServiceInstance.objects.get(pk=done.instance_id).status == "healthy"


def test_approve(personas, aws_emulator, enqueued):
    deployment = awaiting(personas, "race-approve")
    winners, losers = split(post_all(personas["bob"], "approve", deployment))
    assert len(winners) == 1 and len(losers) == N - 1
    assert {m[0] for _, m in losers} == {
        "Too late: this deployment is queued now, so it can no longer be approved."
    }
    deployment.refresh_from_db()
    assert deployment.status == S.QUEUED and deployment.approved_by == personas["bob"]
    assert audit_count(deployment, "deployment.approve") == 1
    assert enqueued == [deployment.pk]
    assert ServiceInstance.objects.get(pk=deployment.instance_id).status == "deploying"


def test_approve_through_the_api_answers_409_to_the_late(personas, aws_emulator, enqueued):
    deployment = awaiting(personas, "race-api")
    headers = [
        {"authorization": f"Bearer {token_create(user=personas['bob'], name=f't{i}')[1]}"}
        for i in range(N)
    ]
    url = f"/api/v1/deployments/{deployment.pk}/approve"
    codes = race(lambda i: Client().post(url, headers=headers[i]).status_code)
    assert sorted(codes) == [200] + [409] * (N - 1)
    assert audit_count(deployment, "deployment.approve") == 1
    assert enqueued == [deployment.pk]


def test_reject(personas, aws_emulator, enqueued):
    deployment = awaiting(personas, "race-reject")
    winners, losers = split(post_all(personas["bob"], "reject", deployment))
    assert len(winners) == 1 and len(losers) == N - 1
    deployment.refresh_from_db()
    assert deployment.status == S.CANCELLED and deployment.error == "Rejected by bob."
    assert audit_count(deployment, "deployment.reject") == 1
    assert enqueued == []


def test_approve_and_reject_at_once_decide_once(personas, aws_emulator, enqueued):
    deployment = awaiting(personas, "race-decide")
    clients = clients_for(personas["bob"])
    urls = [
        reverse(f"deployments:{'approve' if i % 2 else 'reject'}", args=[deployment.pk])
        for i in range(N)
    ]
    race(lambda i: clients[i].post(urls[i]).status_code)
    deployment.refresh_from_db()
    decisions = audit_count(deployment, "deployment.approve") + audit_count(
        deployment, "deployment.reject"
    )
    assert decisions == 1
    assert enqueued == ([deployment.pk] if deployment.status == S.QUEUED else [])
    assert deployment.status in (S.QUEUED, S.CANCELLED)


def test_cancel(personas, aws_emulator, enqueued):
    deployment = launch_lambda(personas, "race-cancel")  # confirmed: queued, instance deploying
    enqueued.clear()
    winners, losers = split(post_all(personas["bob"], "cancel", deployment))
    assert len(winners) == 1 and len(losers) == N - 1
    assert {m[0] for _, m in losers} == {
        "Too late: this deployment is cancelled now, so it can no longer be cancelled."
    }
    deployment.refresh_from_db()
    assert deployment.status == S.CANCELLED and deployment.error == "Cancelled by bob."
    assert audit_count(deployment, "deployment.cancel") == 1
    assert ServiceInstance.objects.get(pk=deployment.instance_id).status == "not_deployed"


def test_cancel_and_confirm_at_once(personas, aws_emulator, enqueued):
    """Half confirm, half discard one plan: it ends queued (and runs) or cancelled, never both."""
    deployment = launch_lambda(personas, "race-mixed", confirm=False)
    clients = clients_for(personas["alice"])
    urls = [
        reverse(f"deployments:{'confirm' if i % 2 else 'cancel'}", args=[deployment.pk])
        for i in range(N)
    ]
    race(lambda i: clients[i].post(urls[i]).status_code)
    deployment.refresh_from_db()
    confirms = audit_count(deployment, "deployment.create.confirm")
    cancels = audit_count(deployment, "deployment.cancel")
    instance = ServiceInstance.objects.get(pk=deployment.instance_id)
    if deployment.status == S.CANCELLED:
        # A confirm may have won first and a cancel then withdrawn it before a worker came.
        assert cancels == 1 and confirms <= 1 and instance.status == "not_deployed"
    else:
        assert deployment.status == S.QUEUED and instance.status == "deploying"
        assert (confirms, cancels, enqueued) == (1, 0, [deployment.pk])


def test_expire(personas, aws_emulator, enqueued):
    deployment = awaiting(personas, "race-expire")
    Deployment.objects.filter(pk=deployment.pk).update(
        approval_expires_at=timezone.now() - timedelta(minutes=1)
    )
    counts = race(lambda i: services.deployments_expire_approvals())
    assert sum(counts) == 1, counts
    deployment.refresh_from_db()
    assert deployment.status == S.CANCELLED and "expired" in deployment.error
    assert audit_count(deployment, "deployment.expire") == 1


def test_approve_after_expiry_races_the_beat(personas, aws_emulator, enqueued):
    deployment = awaiting(personas, "race-late")
    Deployment.objects.filter(pk=deployment.pk).update(
        approval_expires_at=timezone.now() - timedelta(minutes=1)
    )
    clients = clients_for(personas["bob"])
    url = reverse("deployments:approve", args=[deployment.pk])

    def go(i: int):
        if i % 2:
            return services.deployments_expire_approvals()
        return clients[i].post(url).status_code

    race(go)
    deployment.refresh_from_db()
    assert deployment.status == S.CANCELLED
    assert audit_count(deployment, "deployment.expire") == 1
    assert audit_count(deployment, "deployment.approve") == 0 and enqueued == []


def test_revert(personas, aws_emulator, enqueued):
    first = launch_lambda(personas, "race-revert", confirm=False)
    # As if it ran and a later change (memory 256) is what is applied now.
    Deployment.objects.filter(pk=first.pk).update(status=S.SUCCEEDED)
    ServiceInstance.objects.filter(pk=first.instance_id).update(
        applied_spec=first.spec | {"memory_size": 256}, status="healthy"
    )
    winners, losers = split(post_all(personas["alice"], "revert", first))
    assert len(winners) == 1 and len(losers) == N - 1
    assert {m[0] for _, m in losers} == {
        f"You already have a plan that goes back to deployment #{first.pk}'s spec; "
        "confirm or discard it."
    }
    plans = Deployment.objects.filter(reverts=first)
    assert plans.count() == 1 and plans.get().status == S.PLANNED
    assert AuditEvent.objects.filter(action="deployment.revert.plan").count() == 1
    assert enqueued == []


def test_retry(personas, aws_emulator, enqueued):
    first = launch_lambda(personas, "race-retry", confirm=False)
    Deployment.objects.filter(pk=first.pk).update(status=S.FAILED)  # as if its run failed
    winners, losers = split(post_all(personas["bob"], "retry", first))
    assert len(winners) == 1 and len(losers) == N - 1
    assert {m[0] for _, m in losers} == {
        f"You already have a plan that goes back to deployment #{first.pk}'s spec; "
        "confirm or discard it."
    }
    retry = Deployment.objects.get(reverts=first)
    assert (retry.action, retry.status, retry.requested_by) == (
        "create",
        S.PLANNED,
        personas["bob"],
    )
    assert AuditEvent.objects.filter(action="deployment.create.plan").count() == 2  # first, retry
    assert enqueued == []


def test_workers_claim_once_and_the_reconciler_requeues_once(personas, aws_emulator, caplog):
    """Retry paths of the engine: a queued row is claimed by one worker, and a running row whose
    heartbeat stopped is put back in the queue by one reconciler run."""
    deployment = launch_lambda(personas, "race-claim", confirm=False)
    Deployment.objects.filter(pk=deployment.pk).update(status=S.QUEUED)
    leases = race(lambda i: engine.deployment_claim(deployment_id=deployment.pk))
    assert len([lease for lease in leases if lease is not None]) == 1
    deployment.refresh_from_db()
    assert deployment.status == S.RUNNING and deployment.attempts == 1

    stale = timezone.now() - timedelta(hours=1)
    Deployment.objects.filter(pk=deployment.pk).update(heartbeat_at=stale, created_at=stale)
    with caplog.at_level(logging.WARNING, logger="deployments.engine"):
        found = race(lambda i: engine.deployments_reconcile())
    assert all(ids == [deployment.pk] for ids in found)  # re-sent; the claim dedupes the runs
    requeued = [r for r in caplog.records if "lost its worker" in r.getMessage()]
    assert len(requeued) == 1
    deployment.refresh_from_db()
    assert deployment.status == S.QUEUED and deployment.lease is None
    leases = race(lambda i: engine.deployment_claim(deployment_id=deployment.pk))
    assert len([lease for lease in leases if lease is not None]) == 1
