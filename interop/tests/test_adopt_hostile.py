"""Adoption under attack and under failure: two people adopting one resource at once, tampered
form fields (another account's or region's ARN, a kind that does not match), a resource the
catalog already holds, and tagging that fails after the catalog rows were written."""

import pytest
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.urls import reverse

from audit.models import AuditEvent
from catalog.models import Service
from interop import adopt_lambda, discovery
from interop.tests.test_discovery import make_unmanaged_function
from portal.aws import aws_client
from tests.faultproxy import Rule

pytestmark = pytest.mark.integration


def slipway_tags(arn: str) -> dict:
    tags = aws_client("lambda").list_tags(Resource=arn)["Tags"]
    return {k: v for k, v in tags.items() if k.startswith("slipway:")}


def adopt(personas, user: str, slug: str, name: str = "legacy-billing"):
    return discovery.resource_adopt(
        environment=personas["dev"],
        kind="lambda",
        name=name,
        owner=personas["payments"],
        slug=slug,
        user=personas[user],
    ).instance


@pytest.mark.parametrize("slugs", [("billing-a", "billing-b"), ("billing", "billing")])
def test_two_people_adopting_one_function_at_once_get_one_service(
    personas, aws_clean, monkeypatch, slugs
):
    """alice reads the function; before she writes anything, bob adopts it completely."""
    arn = make_unmanaged_function()
    read = adopt_lambda.LambdaAdopter.read
    raced = []

    def read_then_bob_adopts(self, **kwargs):
        live = read(self, **kwargs)
        if not raced:
            raced.append("bob")
            adopt(personas, "bob", slugs[1])
        return live

    monkeypatch.setattr(adopt_lambda.LambdaAdopter, "read", read_then_bob_adopts)
    with pytest.raises(ValidationError) as refused:
        adopt(personas, "alice", slugs[0])
    assert "billing" in " ".join(refused.value.messages)
    assert list(Service.objects.values_list("slug", flat=True)) == [slugs[1]]
    adopted = AuditEvent.objects.filter(action="resource.adopt")
    assert [(e.actor.username, e.result) for e in adopted] == [("bob", "ok")]
    # AWS agrees with the catalog: bob's tags, untouched by alice's refused attempt.
    assert slipway_tags(arn)["slipway:service"] == slugs[1]
    assert discovery.discover_unmanaged(environment=personas["dev"]) == []


def adopt_while_tagging_is_refused(
    client, personas, faults, environment: str, also_refused: tuple[str, ...] = ()
) -> tuple[str, str, HttpResponse]:
    """alice adopts an unmanaged function through the form in `environment` while AWS refuses,
    once each, to tag it (POST on its tags path) and the other methods in `also_refused` on
    that path (e.g. "DELETE", taking the tags off again). Returns (arn, tags path, response)."""
    arn = make_unmanaged_function()
    path = "/2017-03-31/tags/" + arn.replace(":", "%3A")
    for method in ("POST", *also_refused):
        faults.add(Rule(f"{method} {path}", times=1, status=400, code="AccessDeniedException"))
    client.force_login(personas["alice"])
    response = client.post(
        reverse("interop:adopt", args=[environment]),
        {"kind": "lambda", "name": "legacy-billing", "slug": "billing"}
        | {"owner": personas["payments"].pk},
    )
    return arn, path, response


def test_a_failed_tagging_takes_the_catalog_rows_back(client, personas, aws_clean, faults):
    arn, path, response = adopt_while_tagging_is_refused(client, personas, faults, "dev")
    assert response.status_code == 400
    assert "AccessDenied" in response.content.decode()
    assert faults.faults[f"POST {path}"] == 1
    assert not Service.objects.exists()
    failed = AuditEvent.objects.get(action="resource.adopt")
    assert failed.result == "failed"
    # Not in the catalog, not tagged: Discovery lists it again, and it can be adopted.
    assert slipway_tags(arn) == {}
    assert [f.name for f in discovery.discover_unmanaged(environment=personas["dev"])] == [
        "legacy-billing"
    ]
    assert adopt(personas, "alice", "billing").service.slug == "billing"


@pytest.mark.parametrize(
    ("kind", "name", "message"),
    [
        (
            "lambda",
            "arn:aws:lambda:us-east-1:999999999999:function:legacy-billing",
            "account 999999999999",
        ),
        (
            "lambda",
            "arn:aws:lambda:eu-west-1:123456789012:function:legacy-billing",
            "region eu-west-1",
        ),
        ("ecs", "arn:aws:lambda:us-east-1:123456789012:function:legacy-billing", "not a resource"),
        (
            "apigateway",
            "arn:aws:apigateway:eu-west-1::/restapis/abc/stages/dev",
            "region eu-west-1",
        ),
        ("lambda", "legacy-billing:1", "not one of its versions"),
    ],
)
def test_a_tampered_resource_is_refused_before_anything_is_written(
    client, personas, aws_clean, kind, name, message
):
    arn = make_unmanaged_function()
    aws_client("lambda").publish_version(FunctionName="legacy-billing")
    client.force_login(personas["alice"])
    response = client.post(
        reverse("interop:adopt", args=["dev"]),
        {"kind": kind, "name": name, "slug": "billing", "owner": personas["payments"].pk},
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Service.objects.exists()
    assert not AuditEvent.objects.filter(action="resource.adopt").exists()
    assert slipway_tags(arn) == {}


def test_a_function_the_catalog_holds_is_not_adopted_twice_after_its_tags_are_lost(
    personas, aws_clean
):
    arn = make_unmanaged_function()
    adopt(personas, "alice", "billing")
    aws_client("lambda").untag_resource(Resource=arn, TagKeys=list(slipway_tags(arn)))
    # Discovery does not offer it, and a tampered form cannot adopt it under a second name.
    assert discovery.discover_unmanaged(environment=personas["dev"]) == []
    with pytest.raises(ValidationError, match="already manages legacy-billing"):
        adopt(personas, "bob", "billing-again")
    assert list(Service.objects.values_list("slug", flat=True)) == ["billing"]


def test_adopting_into_production_needs_no_approval_but_its_first_change_does(
    client, personas, aws_clean
):
    """Adoption writes nothing in AWS but Slipway's tags, so it is not a deployment and waits
    for no approval, in production too (the single form and the app form alike go through
    `resource_adopt`); every change after it is a deployment, approved as usual."""
    from deployments import services as deployments
    from deployments.models import Deployment

    make_unmanaged_function()
    client.force_login(personas["alice"])
    response = client.post(
        reverse("interop:adopt", args=["prod"]),
        {"kind": "lambda", "name": "legacy-billing", "slug": "billing"}
        | {"owner": personas["payments"].pk},
    )
    assert response.status_code == 302
    instance = Service.objects.get(slug="billing").instances.get()
    assert instance.environment == personas["prod"] and not Deployment.objects.exists()
    plan = deployments.deployment_plan(
        instance=instance,
        spec={**instance.applied_spec, "memory_size": 512},
        user=personas["alice"],
    )
    deployments.deployment_confirm(deployment=plan, user=personas["alice"])
    plan.refresh_from_db()
    assert plan.status == Deployment.Status.AWAITING_APPROVAL
    memory = aws_client("lambda").get_function(FunctionName="legacy-billing")["Configuration"]
    assert memory["MemorySize"] == 384


@pytest.mark.django_db(transaction=True)
def test_two_adoptions_racing_on_two_connections_end_with_one_service(
    personas, aws_clean, monkeypatch
):
    """Real concurrency: both read the function before either writes (a barrier), then both
    write at once on their own database connections; the unique claim decides."""
    import threading

    from django.db import connection

    arn = make_unmanaged_function()
    read = adopt_lambda.LambdaAdopter.read
    barrier = threading.Barrier(2, timeout=30)

    def read_together(self, **kwargs):
        live = read(self, **kwargs)
        barrier.wait()
        return live

    monkeypatch.setattr(adopt_lambda.LambdaAdopter, "read", read_together)
    outcomes: dict[str, str] = {}

    def run(user: str, slug: str) -> None:
        try:
            adopt(personas, user, slug)
            outcomes[user] = "ok"
        except ValidationError as exc:
            outcomes[user] = " ".join(exc.messages)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=a) for a in (("alice", "b-a"), ("bob", "b-b"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["alice", "bob"] and list(outcomes.values()).count("ok") == 1
    [refusal] = [o for o in outcomes.values() if o != "ok"]
    assert "was adopted as b-" in refusal and "a moment ago" in refusal
    [service] = Service.objects.all()
    assert AuditEvent.objects.filter(action="resource.adopt", result="ok").count() == 1
    assert slipway_tags(arn)["slipway:service"] == service.slug


def test_tags_that_cannot_be_taken_off_again_are_named_to_the_user(
    client, personas, aws_clean, faults
):
    """Tagging fails after writing, and removing the tags fails too: the rows are taken back and
    the user is told to remove the tags, instead of the resource silently leaving Discovery."""
    _, _, response = adopt_while_tagging_is_refused(
        client, personas, faults, "prod", also_refused=("DELETE",)
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "could not be taken off it again" in html and "AccessDeniedException" in html
    assert not Service.objects.exists()
    assert AuditEvent.objects.get(action="resource.adopt").after["untag_error"]
