"""SNS topics and subscribed SQS queues through the normal deployment path, witnessed in the
emulator: topic, subscription with its filter policy, queue policy, delivery; dependencies both
ways; a topic with subscribers is not deleted from under them."""

import json

import pytest
from django.urls import reverse

from catalog.models import Service
from conftest import field_errors
from deployments import services
from deployments.errors import PlanFailed
from deployments.models import Deployment
from deployments.tests.test_provision_ecs import run_inline
from portal.aws import aws_client

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:orders-dev-order-placed"
PLACED = {"type": ["order.placed"]}


def launch(personas, slug, spec, team="payments", user="alice") -> Deployment:
    deployment = services.service_launch(
        user=personas[user],
        owner=personas[team],
        slug=slug,
        kind="sns",
        environment=personas["dev"],
        spec={"kind": "sns", **spec},
        confirm=True,
    )
    done = run_inline(deployment)
    assert done.status == Deployment.Status.SUCCEEDED, done.error
    return done


def change(personas, instance, spec, action="update", user="alice") -> Deployment:
    instance.refresh_from_db()
    deployment = services.deployment_request(
        instance=instance, spec=spec, user=personas[user], action=action
    )
    return run_inline(deployment)


def subscription(queue_arn: str) -> dict:
    sns = aws_client("sns")
    [sub] = [
        s
        for s in sns.list_subscriptions_by_topic(TopicArn=TOPIC_ARN)["Subscriptions"]
        if s["Endpoint"] == queue_arn
    ]
    return sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])["Attributes"]


def queue_messages(url: str) -> list[str]:
    sqs = aws_client("sqs")
    found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [m["Body"] for m in found]


def test_topics_queues_filter_policies_and_dependencies(personas, aws_clean):
    publisher = launch(personas, "orders", {"topics": [{"name": "order-placed"}]})
    assert [c["summary"] for c in publisher.plan] == ["Create SNS topic order-placed"]
    attributes = aws_client("sns").get_topic_attributes(TopicArn=TOPIC_ARN)["Attributes"]
    assert attributes["TopicArn"] == TOPIC_ARN

    queue = {"name": "all", "topic": "orders/order-placed", "filter_policy": PLACED}
    subscriber = launch(personas, "audit", {"queues": [queue]}, team="search", user="charlie")
    sqs = aws_client("sqs")
    url = sqs.get_queue_url(QueueName="audit-dev-all")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    attrs = subscription(queue_arn)
    assert json.loads(attrs["FilterPolicy"]) == PLACED
    assert attrs["RawMessageDelivery"] == "true"
    policy = json.loads(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
    )
    assert policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"] == TOPIC_ARN

    # Only messages the filter policy matches arrive.
    sns = aws_client("sns")
    for kind in ("order.placed", "order.cancelled"):
        sns.publish(
            TopicArn=TOPIC_ARN,
            Message=kind,
            MessageAttributes={"type": {"DataType": "String", "StringValue": kind}},
        )
    assert queue_messages(url) == ["order.placed"]

    # Publisher and subscriber are dependencies, both ways.
    orders = Service.objects.get(slug="orders")
    assert list(orders.dependents.values_list("slug", flat=True)) == ["audit"]

    # The topic is not deleted while audit subscribes to it.
    orders_instance = publisher.instance
    orders_instance.refresh_from_db()
    with pytest.raises(PlanFailed, match="audit subscribes to topic order-placed"):
        services.deployment_plan(
            instance=orders_instance,
            spec=orders_instance.applied_spec,
            user=personas["alice"],
            action="delete",
        )

    # Update the filter policy, then revert it.
    instance = subscriber.instance
    wider = {**queue, "filter_policy": {"type": ["order.placed", "order.cancelled"]}}
    updated = change(personas, instance, {"kind": "sns", "queues": [wider]}, user="charlie")
    assert updated.status == Deployment.Status.SUCCEEDED, updated.error
    assert json.loads(subscription(queue_arn)["FilterPolicy"])["type"] == [
        "order.placed",
        "order.cancelled",
    ]
    instance.refresh_from_db()
    revert = services.deployment_revert(deployment=subscriber, user=personas["charlie"])
    services.deployment_confirm(deployment=revert, user=personas["charlie"])
    assert run_inline(revert).status == Deployment.Status.SUCCEEDED
    assert json.loads(subscription(queue_arn)["FilterPolicy"]) == PLACED

    # Delete the subscriber (queue and subscription go), then the publisher may go too.
    deleted = change(personas, instance, instance.applied_spec, action="delete", user="charlie")
    assert deleted.status == Deployment.Status.SUCCEEDED, deleted.error
    assert "audit-dev-all" not in json.dumps(sqs.list_queues())
    assert not aws_client("sns").list_subscriptions_by_topic(TopicArn=TOPIC_ARN)["Subscriptions"]
    gone = change(personas, orders_instance, orders_instance.applied_spec, action="delete")
    assert gone.status == Deployment.Status.SUCCEEDED, gone.error
    assert TOPIC_ARN not in json.dumps(aws_client("sns").list_topics())


def test_a_topic_not_deployed_there_fails_the_plan(personas, aws_clean):
    with pytest.raises(PlanFailed, match="orders/nothing is not a topic deployed in dev"):
        launch(personas, "audit", {"queues": [{"name": "q", "topic": "orders/nothing"}]})


def test_form_lines_and_errors(client, personas, aws_clean):
    launch(personas, "orders", {"topics": [{"name": "order-placed"}]})
    client.force_login(personas["alice"])
    url = reverse("deployments:service_new", args=["sns"])
    base = {"name": "audit", "owner": personas["payments"].pk, "environment": personas["dev"].pk}
    response = client.post(url, {**base, "queues": "all orders/order-placed"})
    assert field_errors(response, "queues")[0].startswith("Line 1: write name: service/topic")
    response = client.post(url, {**base, "queues": 'all: orders/order-placed {"type": 5}'})
    assert "give a list of values" in field_errors(response, "queues")[0]
    response = client.post(url, {**base})
    assert field_errors(response, "topics") == ["Name at least one topic or queue."]
    response = client.post(url, {**base, "queues": 'all: orders/order-placed {"type": ["a"]}'})
    assert response.status_code == 302
    spec = Deployment.objects.get(instance__service__slug="audit").spec
    assert spec["queues"] == [
        {
            "name": "all",
            "topic": "orders/order-placed",
            "filter_policy": {"type": ["a"]},
            "raw_delivery": True,
        }
    ]


def test_a_lambda_service_subscribes_its_function_with_the_invoke_permission(personas, aws_clean):
    from conftest import launch_lambda

    publisher = launch(personas, "orders", {"topics": [{"name": "order-placed"}]})
    wanted = [{"topic": "orders/order-placed", "filter_policy": PLACED}]
    done = run_inline(launch_lambda(personas, "mailer", topics=wanted))
    assert done.status == Deployment.Status.SUCCEEDED, done.error
    assert "Subscribe the function to topic orders/order-placed" in [
        c["summary"] for c in done.plan
    ]
    alias = done.instance.resources["alias_arn"]
    attrs = subscription(alias)
    assert json.loads(attrs["FilterPolicy"]) == PLACED
    policy = json.loads(
        aws_client("lambda").get_policy(FunctionName="mailer-dev", Qualifier="live")["Policy"]
    )
    [statement] = [s for s in policy["Statement"] if "sns" in json.dumps(s["Principal"])]
    assert TOPIC_ARN in json.dumps(statement["Condition"])
    assert list(Service.objects.get(slug="mailer").depends_on.values_list("slug", flat=True)) == [
        "orders"
    ]

    orders = publisher.instance
    orders.refresh_from_db()
    with pytest.raises(PlanFailed, match="mailer subscribes to topic order-placed"):
        services.deployment_plan(
            instance=orders, spec=orders.applied_spec, user=personas["alice"], action="delete"
        )

    # Unsubscribe by dropping the topic from the spec.
    instance = done.instance
    instance.refresh_from_db()
    dropped = change(personas, instance, {**instance.applied_spec, "topics": []})
    assert dropped.status == Deployment.Status.SUCCEEDED, dropped.error
    assert not aws_client("sns").list_subscriptions_by_topic(TopicArn=TOPIC_ARN)["Subscriptions"]
    assert not Service.objects.get(slug="mailer").depends_on.exists()


def test_the_service_page_lists_its_topics_and_queues_as_its_own(client, personas, aws_clean):
    """The page reads what the engine recorded (role → ARN), not an observation: the topics and
    queues are listed from those roles, labelled as the provisioner labels them."""
    publisher = launch(personas, "orders", {"topics": [{"name": "order-placed"}]})
    queue = {"name": "all", "topic": "orders/order-placed", "filter_policy": PLACED}
    launch(personas, "audit", {"queues": [queue]}, team="search", user="charlie")
    publisher.instance.refresh_from_db()
    assert publisher.instance.resources == {"topic:order-placed": TOPIC_ARN}

    client.force_login(personas["alice"])
    page = client.get(reverse("catalog:service_detail", args=["orders"]))
    assert page.status_code == 200
    assert "SNS topic order-placed" in page.content.decode()
    client.force_login(personas["charlie"])
    html = client.get(reverse("catalog:service_detail", args=["audit"])).content.decode()
    assert "SQS queue all" in html
    queue_arn = "arn:aws:sqs:us-east-1:123456789012:audit-dev-all"
    assert queue_arn in html
