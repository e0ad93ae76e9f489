"""Writes for deployments: request one, launch a new service, store code packages."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from catalog import services as catalog_services
from catalog.models import Environment, ServiceInstance, Team
from deployments.models import CodeArtifact, Deployment


class DeploymentConflict(Exception):
    """Raised when the instance already has an active deployment."""


def code_artifact_store(*, content: bytes) -> CodeArtifact:
    """Keep a deployment package once per content hash."""
    sha = CodeArtifact.digest(content)
    artifact, _ = CodeArtifact.objects.get_or_create(
        sha256=sha, defaults={"content": content, "size": len(content)}
    )
    return artifact


def deployment_request(
    *,
    instance: ServiceInstance,
    spec: dict,
    user: AbstractBaseUser,
    action: str = Deployment.Action.UPDATE,
) -> Deployment:
    """Record a deployment and enqueue it once the transaction commits.

    Steps: check the user owns the service; write the row (the database refuses a second active
    deployment for the instance); mark the instance as deploying; enqueue after commit.
    """
    from deployments.tasks import run_deployment

    if not instance.service.owned_by(user):
        raise PermissionDenied("Only members of the owner team can deploy this service.")
    needs_approval = instance.environment.requires_approval
    try:
        with transaction.atomic():
            deployment = Deployment.objects.create(
                instance=instance,
                action=action,
                spec=spec,
                previous_spec=instance.applied_spec,
                requested_by=user,
                status=(
                    Deployment.Status.AWAITING_APPROVAL
                    if needs_approval
                    else Deployment.Status.QUEUED
                ),
            )
    except IntegrityError as exc:
        raise DeploymentConflict(
            f"A deployment of {instance.service.slug} to {instance.environment.name} is already "
            "in progress; wait for it to finish."
        ) from exc
    ServiceInstance.objects.filter(pk=instance.pk).update(status=ServiceInstance.Status.DEPLOYING)
    if not needs_approval:
        transaction.on_commit(lambda: run_deployment.delay(deployment.pk))
    return deployment


@transaction.atomic
def service_launch(
    *,
    user: AbstractBaseUser,
    owner: Team,
    slug: str,
    kind: str,
    environment: Environment,
    spec: dict,
    code: bytes | None = None,
    description: str = "",
) -> Deployment:
    """Create a catalog service and its first deployment in one go (the self-service form).

    `code`, when given, is stored as a CodeArtifact and referenced from the spec by its hash.
    """
    if code is not None:
        spec = {**spec, "code_sha256": code_artifact_store(content=code).sha256}
    service = catalog_services.service_create(
        user=user, owner=owner, slug=slug, kind=kind, description=description
    )
    instance = catalog_services.instance_get_or_create(service=service, environment=environment)
    return deployment_request(
        instance=instance, spec=spec, user=user, action=Deployment.Action.CREATE
    )
