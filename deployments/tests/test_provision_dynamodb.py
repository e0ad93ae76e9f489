"""DynamoDB tables through the normal deployment path, witnessed by describing them in the emulator:
create, update (indexes, TTL, capacity and auto-scaling), revert, refused and real deletes."""

import pytest
from django.urls import reverse

from catalog.models import ServiceInstance
from conftest import field_errors, finished_deployment, wait_for
from deployments import services
from deployments.errors import PlanFailed
from deployments.models import Deployment
from deployments.tests.test_provision_ecs import run_inline
from portal.aws import aws_client

pytestmark = [pytest.mark.integration]


def table_spec(**overrides):
    spec = {
        "kind": "dynamodb",
        "partition_key": {"name": "order_id", "type": "S"},
        "sort_key": {"name": "created_at", "type": "N"},
        "billing_mode": "on_demand",
        "read_capacity": None,
        "write_capacity": None,
        "autoscaling": None,
        "ttl_attribute": "expires_at",
        "point_in_time_recovery": True,
        "deletion_protection": False,
        "global_secondary_indexes": [
            {
                "name": "by-customer",
                "partition_key": {"name": "customer_id", "type": "S"},
                "sort_key": None,
                "projection": "ALL",
            }
        ],
    }
    spec.update(overrides)
    return spec


def describe(name="orders-dev"):
    ddb = aws_client("dynamodb")
    table = ddb.describe_table(TableName=name)["Table"]
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    return table, ttl, backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"]


def launch(personas, **overrides) -> Deployment:
    deployment = services.service_launch(
        user=personas["alice"],
        owner=personas["payments"],
        slug="orders",
        kind="dynamodb",
        environment=personas["dev"],
        spec=table_spec(**overrides),
        confirm=True,
    )
    done = run_inline(deployment)
    assert done.status == Deployment.Status.SUCCEEDED, (done.error, list(done.steps.all()))
    return done


def change(personas, instance, spec, action=Deployment.Action.UPDATE) -> Deployment:
    instance.refresh_from_db()
    deployment = services.deployment_request(
        instance=instance, spec=spec, user=personas["alice"], action=action
    )
    return run_inline(deployment)


@pytest.mark.django_db(transaction=True)
def test_the_form_creates_a_table_through_the_worker(client, personas, aws_clean, celery_worker):
    client.force_login(personas["alice"])
    response = client.post(
        reverse("deployments:service_new", args=["dynamodb"]),
        {
            "name": "orders",
            "owner": personas["payments"].pk,
            "environment": personas["dev"].pk,
            "partition_key_name": "order_id",
            "partition_key_type": "S",
            "sort_key_name": "created_at",
            "sort_key_type": "N",
            "billing_mode": "on_demand",
            "ttl_attribute": "expires_at",
            "point_in_time_recovery": "on",
            "deletion_protection": "on",
            "indexes": "by-customer: customer_id:S created_at:N keys_only",
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    deployment = Deployment.objects.get()
    plan = [c["summary"] for c in deployment.plan]
    assert plan[0] == "Create DynamoDB table orders-dev"
    assert "Time to live: expires_at" in plan
    client.post(reverse("deployments:confirm", args=[deployment.pk]))
    done = wait_for(lambda: finished_deployment(deployment.pk))
    assert done.status == Deployment.Status.SUCCEEDED, done.error

    table, ttl, pitr = describe()
    assert table["KeySchema"] == [
        {"AttributeName": "order_id", "KeyType": "HASH"},
        {"AttributeName": "created_at", "KeyType": "RANGE"},
    ]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["DeletionProtectionEnabled"] is True
    [index] = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by-customer"
    assert index["Projection"]["ProjectionType"] == "KEYS_ONLY"
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    assert pitr == "ENABLED"
    tags = aws_client("dynamodb").list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]
    assert {"Key": "slipway:service", "Value": "orders"} in tags
    instance = ServiceInstance.objects.get()
    assert instance.resources["table_arn"] == table["TableArn"]


@pytest.mark.django_db
def test_update_revert_and_delete(personas, aws_clean):
    created = launch(personas)
    instance = created.instance

    # Update: provisioned capacity with auto-scaling, another index, TTL off.
    spec = table_spec(
        billing_mode="provisioned",
        read_capacity=5,
        write_capacity=5,
        autoscaling={"min": 5, "max": 50, "target": 60},
        ttl_attribute="",
        global_secondary_indexes=[
            *table_spec()["global_secondary_indexes"],
            {
                "name": "by-status",
                "partition_key": {"name": "status", "type": "S"},
                "sort_key": {"name": "created_at", "type": "N"},
                "projection": "ALL",
            },
        ],
    )
    updated = change(personas, instance, spec)
    assert updated.status == Deployment.Status.SUCCEEDED, updated.error
    table, ttl, _ = describe()
    assert table["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
    assert sorted(i["IndexName"] for i in table["GlobalSecondaryIndexes"]) == [
        "by-customer",
        "by-status",
    ]
    assert ttl["TimeToLiveStatus"] == "DISABLED"
    targets = aws_client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="dynamodb", ResourceIds=["table/orders-dev"]
    )["ScalableTargets"]
    assert sorted(
        (t["ScalableDimension"], t["MinCapacity"], t["MaxCapacity"]) for t in targets
    ) == [
        ("dynamodb:table:ReadCapacityUnits", 5, 50),
        ("dynamodb:table:WriteCapacityUnits", 5, 50),
    ]

    # Nothing to change when the spec is applied again.
    instance.refresh_from_db()
    with pytest.raises(services.NothingToChange):
        services.deployment_plan(instance=instance, spec=spec, user=personas["alice"])

    # Revert to the first version: on demand, one index, TTL back, no auto-scaling.
    revert = services.deployment_revert(deployment=created, user=personas["alice"])
    services.deployment_confirm(deployment=revert, user=personas["alice"])
    assert run_inline(revert).status == Deployment.Status.SUCCEEDED
    table, ttl, _ = describe()
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["by-customer"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    assert not aws_client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="dynamodb", ResourceIds=["table/orders-dev"]
    )["ScalableTargets"]

    # Delete: the table goes.
    instance.refresh_from_db()
    deleting = services.deployment_request(
        instance=instance, spec=instance.applied_spec, user=personas["alice"], action="delete"
    )
    assert run_inline(deleting).status == Deployment.Status.SUCCEEDED
    names = aws_client("dynamodb").list_tables()["TableNames"]
    assert "orders-dev" not in names


@pytest.mark.django_db
def test_deletion_protection_refuses_the_delete_until_turned_off(personas, aws_clean):
    instance = launch(personas, deletion_protection=True).instance
    instance.refresh_from_db()
    with pytest.raises(PlanFailed, match="deletion protection on"):
        services.deployment_plan(
            instance=instance, spec=instance.applied_spec, user=personas["alice"], action="delete"
        )
    assert "orders-dev" in aws_client("dynamodb").list_tables()["TableNames"]

    off = change(personas, instance, table_spec(deletion_protection=False))
    assert [c["summary"] for c in off.plan] == ["Deletion protection on → off"]
    table, _, _ = describe()
    assert table["DeletionProtectionEnabled"] is False


@pytest.mark.django_db
def test_a_key_change_is_refused_with_the_reason(personas, aws_clean):
    instance = launch(personas).instance
    instance.refresh_from_db()
    with pytest.raises(PlanFailed, match="cannot change once it exists"):
        services.deployment_plan(
            instance=instance,
            spec=table_spec(partition_key={"name": "id", "type": "S"}),
            user=personas["alice"],
        )


@pytest.mark.django_db
def test_form_errors_stand_next_to_their_fields(client, personas):
    client.force_login(personas["alice"])
    url = reverse("deployments:service_new", args=["dynamodb"])
    base = {
        "name": "orders",
        "owner": personas["payments"].pk,
        "environment": personas["dev"].pk,
        "partition_key_name": "order_id",
        "partition_key_type": "S",
        "billing_mode": "provisioned",
    }
    response = client.post(url, base)
    assert response.status_code == 400
    assert field_errors(response, "read_capacity") == ["Required for provisioned capacity."]

    response = client.post(url, {**base, "billing_mode": "on_demand", "sort_key_name": "order_id"})
    assert field_errors(response, "sort_key_name") == [
        "The sort key must differ from the partition key."
    ]

    response = client.post(
        url, {**base, "billing_mode": "on_demand", "indexes": "by-x: order_id:N"}
    )
    assert "order_id is string elsewhere" in field_errors(response, "indexes")[0]

    response = client.post(url, {**base, "billing_mode": "on_demand", "indexes": "nonsense"})
    assert field_errors(response, "indexes")[0].startswith("Line 1: write name:")
    assert not Deployment.objects.exists()


@pytest.mark.django_db
def test_a_table_exports_to_backstage_as_a_resource(personas):
    from catalog import services as catalog_services
    from interop.exporter import catalog_entities

    table = catalog_services.service_create(
        user=personas["alice"], owner=personas["payments"], slug="orders-db", kind="dynamodb"
    )
    api = catalog_services.service_create(
        user=personas["alice"], owner=personas["payments"], slug="orders", kind="lambda"
    )
    api.depends_on.add(table)
    entities = {(e["kind"], e["metadata"]["name"]): e for e in catalog_entities()}
    resource = entities[("Resource", "orders-db")]
    assert resource["spec"]["type"] == "database"
    assert resource["spec"]["owner"] == "group:payments"
    assert entities[("Component", "orders")]["spec"]["dependsOn"] == ["resource:orders-db"]
