"""API: launch a service, update, scale or delete an instance, read and approve deployments.

Input goes through the kind's own forms (deployments/kinds.py), so the API validates exactly
what the web pages validate, and through the same services and permission helpers.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from ninja import Router, Status

from api.common import ApiRefusal, FormInvalid, audited, form_errors
from api.schemas import DeploymentDetailOut, Error, FormErrors, LaunchIn, ScaleIn, UpdateIn
from catalog import selectors as catalog_selectors
from catalog.access import get_deployment_for_user, get_instance_for_user
from catalog.models import Environment, Membership, Team
from deployments import kinds
from deployments import services as deploy_services
from deployments.guardrails import GuardrailViolation
from deployments.models import Deployment

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


def _kind(slug: str) -> kinds.Kind:
    try:
        return kinds.get(slug)
    except ValueError:
        raise ApiRefusal(f"Slipway cannot deploy {slug!r} services.", status=422) from None


def _detail(deployment: Deployment) -> Deployment:
    return (
        Deployment.objects.select_related(
            "instance__service", "instance__environment", "requested_by"
        )
        .prefetch_related("steps")
        .get(pk=deployment.pk)
    )


def _form_data(form_class, spec: dict, fields: dict) -> dict:
    """The form's current values (from the applied spec) overlaid with the caller's fields."""
    unbound = form_class(spec=spec)
    data = {name: unbound[name].value() for name in unbound.fields}
    return {k: v for k, v in {**data, **fields}.items() if v is not None}


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
        kind = _kind(payload.kind)
        owner = Team.objects.filter(slug=payload.owner).first()
        if owner is None or env is None:
            raise Http404("No such team or environment.")
        if not (
            request.user.is_staff
            or Membership.objects.filter(team=owner, user=request.user).exists()
        ):
            raise PermissionDenied(f"You are not a member of {owner.name}.")
        teams = catalog_selectors.teams_for_user(user=request.user)
        data = {
            **payload.fields,
            "name": payload.name,
            "owner": owner.pk,
            "environment": env.pk,
            "description": payload.description,
        }
        form = kind.create_form(data, None, teams=teams)
        if not form.is_valid():
            raise FormInvalid(form_errors(form))
        deployment = _refusals(
            lambda: deploy_services.service_launch(
                user=request.user,
                owner=owner,
                slug=payload.name,
                kind=kind.slug,
                environment=env,
                spec=form.spec(),
                code=form.cleaned_data.get("code"),
                description=payload.description,
                confirm=True,
                source="api",
            )
        )
        out["target"] = deployment
        out["after"] = deployment.spec
    return Status(201, _detail(deployment))


def _instance_change(request, slug, environment, *, action, form_attr, fields):
    instance = get_instance_for_user(request.user, slug, environment, write=True)
    form_class = getattr(kinds.get(instance.service.kind), form_attr)
    if form_class is None or not instance.applied_spec:
        raise Http404(f"There is nothing deployed to {action} here.")
    data = _form_data(form_class, instance.applied_spec, fields)
    form = (
        form_class(data, spec=instance.applied_spec)
        if action == "scale"
        else form_class(data, None, spec=instance.applied_spec)
    )
    if not form.is_valid():
        raise FormInvalid(form_errors(form))
    return _refusals(
        lambda: deploy_services.deployment_request(
            instance=instance, spec=form.spec(), user=request.user, action=action, source="api"
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
            request,
            slug,
            environment,
            action="update",
            form_attr="update_form",
            fields=payload.fields,
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
            request,
            slug,
            environment,
            action="scale",
            form_attr="scale_form",
            fields=payload.fields,
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
