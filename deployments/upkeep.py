"""Beat's upkeep of deployments: put back the work of workers that died, and flag drift.

Both only read AWS or move rows with conditional UPDATEs; the engine (deployments/engine.py)
runs what they put back in the queue.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from catalog.models import ServiceInstance
from deployments import live, liveness, provisioners
from deployments.models import Deployment, DeploymentStep
from deployments.provisioners.base import Context

log = logging.getLogger(__name__)


def instances_check_drift() -> dict[str, int]:
    """Beat: compare AWS with each deployed instance's applied spec; flag or clear drift.

    An instance is drifted when planning its applied spec again finds changes (someone edited
    it in the console, or the embedded emulator restarted and lost everything). Re-applying
    the spec from the Deployments tab shows that same plan and fixes it.
    """
    counts = {"checked": 0, "drifted": 0}
    watched = (ServiceInstance.Status.HEALTHY, ServiceInstance.Status.DRIFTED)
    instances = ServiceInstance.objects.filter(
        status__in=watched, applied_spec__isnull=False
    ).select_related("service__owner", "environment")
    for instance in instances:
        provisioner = provisioners.for_kind(instance.service.kind)
        ctx = Context.read_only(
            instance=instance, spec=instance.applied_spec, actor="slipway-drift-check"
        )
        try:
            changes = provisioner.plan(instance.applied_spec, provisioner.observe(ctx))
        except Exception:  # noqa: BLE001 — one unreachable account must not stop the rest
            log.warning("Drift check of %s failed", instance, exc_info=True)
            continue
        counts["checked"] += 1
        status = ServiceInstance.Status.DRIFTED if changes else ServiceInstance.Status.HEALTHY
        counts["drifted"] += bool(changes)
        # Conditional: never overwrite a status a deployment set meanwhile.
        ServiceInstance.objects.filter(pk=instance.pk, status__in=watched).update(status=status)
    return counts


def deployments_reconcile() -> list[int]:
    """Find deployments whose worker vanished and put them back in the queue.

    1. `running` rows whose worker process is dead (its liveness key expired) and that have
       been quiet for DEPLOY_DEAD_WORKER_SECONDS, or that have been quiet for
       DEPLOY_STALE_SECONDS whoever holds them (a hung worker) → `queued`;
    2. the steps those attempts left `running` → `interrupted`;
    3. `queued` rows older than DEPLOY_STALE_SECONDS (their message was lost) are returned too.
    A deployment parked for a rate-limit token (engine._park) is `running` with its heartbeat
    set to when the token is due: it is left alone until then, and taken like any other after.
    Returns the ids to enqueue; the claim makes a duplicate message harmless.
    """
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.DEPLOY_STALE_SECONDS)
    quiet = now - timedelta(seconds=settings.DEPLOY_DEAD_WORKER_SECONDS)
    candidates = list(
        Deployment.objects.filter(
            status=Deployment.Status.RUNNING, heartbeat_at__lt=quiet
        ).values_list("pk", "worker", "heartbeat_at", "lease")
    )
    living = liveness.alive({worker for _, worker, _, _ in candidates if worker})
    requeued = []
    for pk, worker, heartbeat_at, lease in candidates:
        if heartbeat_at >= cutoff and (not worker or worker in living):
            continue
        # Conditional on the lease seen above: a worker that just wrote again keeps the row.
        if Deployment.objects.filter(
            pk=pk, status=Deployment.Status.RUNNING, lease=lease, heartbeat_at=heartbeat_at
        ).update(status=Deployment.Status.QUEUED, lease=None):
            requeued.append(pk)
            DeploymentStep.objects.filter(
                deployment_id=pk, status=DeploymentStep.Status.RUNNING
            ).update(
                status=DeploymentStep.Status.INTERRUPTED,
                finished_at=now,
                message=f"Worker {worker or '(unknown)'} stopped during this step; "
                "the deployment was queued again.",
            )
            live.deployment_changed(pk)
            log.warning("Deployment %s lost its worker %s; re-enqueued", pk, worker)
    lost = Deployment.objects.filter(
        status=Deployment.Status.QUEUED, created_at__lt=cutoff
    ).values_list("pk", flat=True)
    return sorted(set(requeued) | set(lost))
