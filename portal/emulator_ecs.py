"""A simulated Fargate scheduler for the embedded emulator (runs inside the emulator process only).

Why: moto runs no containers. Out of the box an ECS service reports `runningCount` 0 and its
primary deployment `IN_PROGRESS` forever, so a deploy could only "finish" if Slipway faked the
stability check. moto's own knob, `MOTO_ECS_SERVICE_RUNNING=N`, is one global number read when
a service is created: a service whose desired count differs from N either never completes
(N < desired) or reports N running tasks for ever (N > desired). And `update_service` leaves
`deployments[]` untouched, so a new task definition never gets a deployment of its own.

What this does instead: it teaches the emulator what real ECS does when every task starts and
passes its health checks at once —

1. a new service starts all its tasks: `runningCount` = desired, the PRIMARY deployment is
   `COMPLETED`;
2. `update_service` with a different task definition (or `forceNewDeployment`) replaces the
   deployments with a new PRIMARY deployment of that revision, already `COMPLETED` (the old one
   has drained);
3. a desired-count change scales the PRIMARY deployment with the service.

Slipway's own stability check (`deployments.provisioners.ecs.wait`) is unchanged and real: it
reads `describe_services` and requires the PRIMARY deployment `COMPLETED` with `runningCount`
equal to the desired count, exactly as against AWS. Nothing here ever runs against real AWS.
"""

from __future__ import annotations

from typing import Any

_installed = False


def _complete(deployment: dict[str, Any], desired: int, now) -> None:
    deployment.update(
        desiredCount=desired,
        runningCount=desired,
        pendingCount=0,
        rolloutState="COMPLETED",
        rolloutStateReason=f"ECS deployment {deployment['id']} completed.",
        updatedAt=now,
    )


def install() -> None:
    """Patch moto's ECS models in this (the emulator's) process. Idempotent."""
    global _installed
    if _installed:
        return
    from moto.core.utils import utcnow
    from moto.ecs import models
    from moto.moto_api._internal import mock_random

    original_init = models.Service.__init__
    original_update = models.EC2ContainerServiceBackend.update_service

    def service_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.running_count = self.desired_count
        self.pending_count = 0
        for deployment in self.deployments:
            _complete(deployment, self.desired_count, utcnow())

    def update_service(self, service_properties: dict[str, Any]):
        properties = dict(service_properties)  # moto pops keys from the dict it is given
        cluster = properties.get("cluster", "default")
        name = properties["service"].split("/")[-1]
        before = self._get_service(cluster, name).task_definition
        service = original_update(self, service_properties)
        new_revision = properties.get("task_definition") and service.task_definition != before
        if (new_revision or properties.get("force_new_deployment")) and service.deployments:
            previous = service.deployments[0]
            deployment_id = f"ecs-svc/{mock_random.randint(0, 32**12)}"
            now = utcnow()
            service.deployments = [
                {
                    **previous,
                    "id": deployment_id,
                    "status": "PRIMARY",
                    "taskDefinition": service.task_definition,
                    "createdAt": now,
                }
            ]
        service.running_count = service.desired_count
        service.pending_count = 0
        for deployment in service.deployments:
            _complete(deployment, service.desired_count, utcnow())
        return service

    models.Service.__init__ = service_init
    models.EC2ContainerServiceBackend.update_service = update_service
    _installed = True
