"""API: launch a service, update, scale or delete an instance, read and approve deployments.

Request bodies are the kinds' typed specs (api/spec_schemas.py, from deployments.specs), so the
API checks exactly the rules the web forms check, with the same messages, and goes through the
same services and permission helpers.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from ninja import Router, Status
from pydantic import ValidationError

from api.common import ApiRefusal, FormInvalid, audited, validation_errors
from api.schemas import DeploymentDetailOut, Error, FormErrors
from api.spec_schemas import LaunchIn, ScaleIn, UpdateIn
from catalog.access import get_deployment_for_user, get_instance_for_user
from catalog.models import Environment, Membership, Team
from catalog.services import SlugTaken
from deployments import services as deploy_services
from deployments.forms.common import NAME_TAKEN
from deployments.guardrails import GuardrailViolation
from deployments.models import Deployment
from deployments.specs import SPECS, context_errors
from deployments.specs.lambda_ import source_zip

router = Router(tags=["deployments"])

MUTATION_RESPONSES = {
    201: DeploymentDetailOut,
    403: Error,
    404: Error,
    409: Error,
    422: FormErrors,
}


def _refusals(call):
    """Turn a deployment service's refusals into API answers."""
    try:
        return call()
    except GuardrailViolation as exc:
        raise ApiRefusal(str(exc), status=422) from exc
    except deploy_services.DeploymentError as exc:
        raise ApiRefusal(str(exc), status=409) from exc


def _detail(deployment: Deployment) -> Deployment:
    return (
        Deployment.objects.select_related(
            "instance__service", "instance__environment", "requested_by"
        )
        .prefetch_related("steps")
        .get(pk=deployment.pk)
    )


def _typed(kind: str, data: dict, *, environment, name: str | None = None) -> dict:
    """`data` checked as the kind's stored spec and against the environment (the catalog,
    the network, the function name's length); the stored JSON, or FormInvalid."""
    try:
        spec = SPECS[kind].model_validate(data)
    except ValidationError as exc:
        raise FormInvalid(validation_errors(exc.errors(), prefix=("spec",))) from None
    errors: dict[str, list[str]] = {}
    for field, message in context_errors(spec, environment=environment, name=name):
        key = field if field in ("name", "environment") else f"spec.{field}"
        errors.setdefault(key, []).append(message)
    if errors:
        raise FormInvalid(errors)
    return spec.to_json()


def _code(data: dict) -> bytes | None:
    """The zip of a Lambda's typed `source` (popped from `data`), or None."""
    source = data.pop("source", None)
    if not source:
        return None
    data.pop("code_s3", None)
    data.pop("code_sha256", None)
    return source_zip(data["runtime"], data["handler"], source)


@router.post("/launches", response=MUTATION_RESPONSES)
def launch_service(request, payload: LaunchIn):
    """Create a service and deploy it to one environment (planned and confirmed at once)."""
    env = Environment.objects.filter(slug=payload.environment).first()
    with audited(
        request,
        action="service.launch",
        target=("catalog.service", "", payload.name),
        environment=env,
    ) as out:
        owner = Team.objects.filter(slug=payload.owner).first()
        if owner is None or env is None:
            raise Http404("No such team or environment.")
        if not (
            request.user.is_staff
            or Membership.objects.filter(team=owner, user=request.user).exists()
        ):
            raise PermissionDenied(f"You are not a member of {owner.name}.")
        kind = payload.spec.kind
        data = payload.spec.model_dump(mode="json")
        code = _code(data) if kind == "lambda" else None
        if kind == "apigateway":
            data["stage"] = env.slug  # the stage is named after the environment
        spec = _typed(kind, data, environment=env, name=payload.name)
        try:
            deployment = _refusals(
                lambda: deploy_services.service_launch(
                    user=request.user,
                    owner=owner,
                    slug=payload.name,
                    kind=kind,
                    environment=env,
                    spec=spec,
                    code=code,
                    description=payload.description,
                    confirm=True,
                    source="api",
                )
            )
        except SlugTaken:
            # The name is in the catalog (the INSERT's unique check, also when another launch
            # took it a moment ago): the create form's words, under the body's `name`.
            raise FormInvalid({"name": [NAME_TAKEN]}) from None
        out["target"] = deployment
        out["after"] = deployment.spec
    return Status(201, _detail(deployment))


def _instance_change(request, slug, environment, *, action, changes):
    """The applied spec with `changes` (a typed partial spec) applied, requested as `action`."""
    instance = get_instance_for_user(request.user, slug, environment, write=True)
    if not instance.applied_spec:
        raise Http404(f"There is nothing deployed to {action} here.")
    kind = instance.service.kind
    if changes.kind != kind:
        raise FormInvalid({"spec.kind": [f"{slug} is a {kind} service; send kind {kind}."]})
    fields = changes.model_dump(mode="json", exclude_unset=True)
    data = {**instance.applied_spec, **fields, "kind": kind}
    code = None
    if kind == "lambda":
        if fields.get("code_s3"):
            data.pop("code_sha256", None)
        code = _code(data)
    spec = _typed(kind, data, environment=instance.environment)
    if code is not None:
        spec["code_sha256"] = deploy_services.code_artifact_store(content=code).sha256
    return _refusals(
        lambda: deploy_services.deployment_request(
            instance=instance, spec=spec, user=request.user, action=action, source="api"
        )
    )


def _env(slug: str):
    return Environment.objects.filter(slug=slug).first()


@router.post("/services/{slug}/environments/{environment}/update", response=MUTATION_RESPONSES)
def update_instance(request, slug: str, environment: str, payload: UpdateIn):
    """Change spec fields of a deployed instance; the deployment is queued at once."""
    with audited(
        request,
        action="deployment.update",
        target=("catalog.service", "", slug),
        environment=_env(environment),
        before=None,
    ) as out:
        deployment = _instance_change(
            request, slug, environment, action="update", changes=payload.spec
        )
        out.update(target=deployment, after=deployment.spec)
    return Status(201, _detail(deployment))


@router.post("/services/{slug}/environments/{environment}/scale", response=MUTATION_RESPONSES)
def scale_instance(request, slug: str, environment: str, payload: ScaleIn):
    """Change only the scaling numbers (the environment's guardrails apply)."""
    with audited(
        request,
        action="deployment.scale",
        target=("catalog.service", "", slug),
        environment=_env(environment),
    ) as out:
        deployment = _instance_change(
            request, slug, environment, action="scale", changes=payload.spec
        )
        out.update(target=deployment, after=deployment.spec)
    return Status(201, _detail(deployment))


@router.post("/services/{slug}/environments/{environment}/delete", response=MUTATION_RESPONSES)
def delete_instance(request, slug: str, environment: str):
    """Tear down everything the instance owns in AWS."""
    with audited(
        request,
        action="deployment.delete",
        target=("catalog.service", "", slug),
        environment=_env(environment),
    ) as out:
        instance = get_instance_for_user(request.user, slug, environment, write=True)
        if not instance.applied_spec:
            raise Http404("There is nothing deployed to delete here.")
        deployment = _refusals(
            lambda: deploy_services.deployment_request(
                instance=instance,
                spec=instance.applied_spec,
                user=request.user,
                action=Deployment.Action.DELETE,
                source="api",
            )
        )
        out.update(target=deployment)
    return Status(201, _detail(deployment))


@router.get("/deployments/{pk}", response={200: DeploymentDetailOut, 404: Error})
def get_deployment(request, pk: int):
    """A deployment's status, plan and step log (poll it until status is final)."""
    return Status(200, _detail(get_deployment_for_user(request.user, pk)))


@router.post("/deployments/{pk}/approve", response={200: DeploymentDetailOut, **MUTATION_RESPONSES})
def approve_deployment(request, pk: int):
    """A second member of the owner team approves a deployment that awaits approval."""
    with audited(
        request, action="deployment.approve", target=("deployments.deployment", pk, "")
    ) as out:
        deployment = get_deployment_for_user(request.user, pk, write=True)
        out.update(target=deployment)
        deployment = _refusals(
            lambda: deploy_services.deployment_approve(
                deployment=deployment, user=request.user, source="api"
            )
        )
    return Status(200, _detail(deployment))
