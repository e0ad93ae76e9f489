"""In a real browser: a DynamoDB table, a Lambda service that uses it (the policy in the plan, the
dependency on both services' pages), and a Step Functions workflow calling that Lambda by name;
AWS witnessed in the emulator."""

import json

import pytest
from playwright.sync_api import expect

from conftest import PASSWORD
from portal.aws import aws_client
from tests.browser import browser_page, sign_in  # noqa: F401 — fixture

pytestmark = [pytest.mark.browser, pytest.mark.integration]

WORKFLOW = {
    "StartAt": "Record",
    "States": {
        "Record": {"Type": "Task", "Resource": "slipway:lambda:orders", "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}


def confirm_and_wait(page) -> None:
    deployment = page.locator(".deployment")
    expect(deployment).to_have_attribute("data-status", "planned")
    page.get_by_role("button", name="Confirm and deploy").click()
    expect(page.locator(".deployment")).to_have_attribute(
        "data-status", "succeeded", timeout=60_000
    )


def test_table_lambda_that_uses_it_and_a_workflow_that_calls_it(
    browser_page,  # noqa: F811
    personas,
    aws_clean,
    celery_worker,
):
    page = browser_page
    sign_in(page, "alice", PASSWORD)

    # 1. The table.
    page.goto("/deployments/new/dynamodb/")
    page.get_by_label("Name", exact=True).fill("orders-db")
    page.get_by_label("Environment", exact=True).select_option(label="Development")
    page.get_by_label("Partition key").fill("order_id")
    page.get_by_label("Global secondary indexes").fill("by-customer: customer_id:S")
    page.get_by_label("Deletion protection").uncheck()
    page.get_by_role("button", name="Review plan").click()
    expect(page.locator(".plan-list")).to_contain_text("Create DynamoDB table orders-db-dev")
    confirm_and_wait(page)
    table = aws_client("dynamodb").describe_table(TableName="orders-db-dev")["Table"]

    # 2. A Lambda service that uses it: the plan shows the policy before anything happens.
    page.goto("/deployments/new/lambda/")
    page.get_by_label("Function name").fill("orders")
    page.get_by_label("Environment", exact=True).select_option(label="Development")
    page.get_by_label("DynamoDB tables it uses").fill("orders-db: read_write")
    page.get_by_role("button", name="Review plan").click()
    plan = page.locator(".plan-list")
    expect(plan).to_contain_text("Let the function use 1 DynamoDB table")
    expect(plan).to_contain_text("read-write on table orders-db")
    expect(plan).to_contain_text("policy slipway-tables on its own role")
    confirm_and_wait(page)
    policy = aws_client("iam").get_role_policy(
        RoleName="slipway-dev-orders-fn", PolicyName="slipway-tables"
    )["PolicyDocument"]
    policy = json.loads(policy) if isinstance(policy, str) else policy
    assert policy["Statement"][0]["Resource"] == [table["TableArn"], f"{table['TableArn']}/index/*"]

    # 3. The dependency, on both services' pages.
    page.goto("/catalog/services/orders/")
    expect(page.locator(".dep-list").first).to_contain_text("orders-db")
    page.goto("/catalog/services/orders-db/")
    expect(page.locator(".dep-list").last).to_contain_text("orders")

    # 4. A workflow that calls the Lambda by its Slipway name.
    page.goto("/deployments/new/stepfunctions/")
    page.get_by_label("Name", exact=True).fill("checkout")
    page.get_by_label("Environment", exact=True).select_option(label="Development")
    page.get_by_label("Definition").fill(json.dumps(WORKFLOW, indent=2))
    page.get_by_role("button", name="Review plan").click()
    expect(page.locator(".plan-list")).to_contain_text("calls orders")
    confirm_and_wait(page)
    alias = aws_client("lambda").get_alias(FunctionName="orders-dev", Name="live")["AliasArn"]
    machine = aws_client("stepfunctions").describe_state_machine(
        stateMachineArn="arn:aws:states:us-east-1:123456789012:stateMachine:checkout-dev"
    )
    assert json.loads(machine["definition"])["States"]["Record"]["Resource"] == alias
