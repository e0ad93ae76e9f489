"""A service's Overview and Settings tabs, and who may edit what."""

import pytest
from django.urls import reverse

from catalog import services
from catalog.console import console_url
from catalog.models import Service
from catalog.tests.conftest import launch
from conftest import field_html, wait_for
from deployments.models import Deployment


def settings_url(slug="checkout"):
    return reverse("catalog:service_settings", args=[slug])


def detail_url(slug="checkout"):
    return reverse("catalog:service_detail", args=[slug])


def valid_settings(**overrides):
    data = {
        "name": "Checkout API",
        "description": "Takes card payments.",
        "lifecycle": "production",
        "system": "payments-core",
        "repo_url": "https://git.example.com/payments/checkout",
        "docs_url": "https://docs.example.com/checkout",
        "tags": "pci, Python  card",
        "depends_on": "ledger indexer",
    }
    data.update(overrides)
    return data


def test_overview_shows_links_owner_and_dependencies_both_ways(client, catalog):
    client.force_login(catalog["charlie"])
    html = client.get(detail_url()).content.decode()
    assert "Takes card payments at checkout." in html
    assert 'href="/catalog/teams/payments/"' in html
    depends = html.split("Depends on", 1)[1].split("Used by", 1)[0]
    assert ">ledger</a>" in depends
    ledger = client.get(detail_url("ledger")).content.decode()
    assert ">Checkout</a>" in ledger.split("Used by", 1)[1]


def test_owner_edits_settings(client, catalog):
    client.force_login(catalog["bob"])
    response = client.post(settings_url(), valid_settings())
    assert response.status_code == 302
    assert response["Location"] == detail_url()
    service = Service.objects.get(slug="checkout")
    assert service.name == "Checkout API"
    assert service.slug == "checkout"  # AWS names derive from it: never changed here
    assert service.system == "payments-core"
    assert service.tags == ["pci", "python", "card"]
    assert sorted(s.slug for s in service.depends_on.all()) == ["indexer", "ledger"]
    html = client.get(detail_url()).content.decode()
    assert "Saved the settings of Checkout API." in html
    assert 'href="https://git.example.com/payments/checkout"' in html
    assert "payments-core" in html


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("repo_url", "not a url", "Enter a valid URL."),
        ("depends_on", "ledger ghost", "No service named ghost in the catalog."),
        ("depends_on", "checkout", "A service cannot depend on itself."),
        ("tags", "ok, <script>", "Not a tag: <script>"),
        ("name", "", "This field is required."),
        ("lifecycle", "immortal", "Select a valid choice."),
    ],
)
def test_bad_settings_show_an_error_next_to_the_field_and_change_nothing(
    client, catalog, field, value, message
):
    client.force_login(catalog["alice"])
    response = client.post(settings_url(), valid_settings(**{field: value}))
    assert response.status_code == 400
    assert message.replace("<", "&lt;").replace(">", "&gt;") in field_html(response, field)
    service = Service.objects.get(slug="checkout")
    assert service.name == "Checkout"
    assert [s.slug for s in service.depends_on.all()] == ["ledger"]


def test_settings_permissions(client, catalog):
    # Anonymous → login, for GET and POST.
    for method in (client.get, client.post):
        response = method(settings_url())
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    # charlie (another team) → 403 on GET and POST; nothing changes.
    client.force_login(catalog["charlie"])
    assert client.get(settings_url()).status_code == 403
    response = client.post(settings_url(), valid_settings())
    assert response.status_code == 403
    assert b"Only members of the owner team" in response.content
    assert Service.objects.get(slug="checkout").name == "Checkout"
    # Other methods are refused.
    client.force_login(catalog["alice"])
    assert client.put(settings_url()).status_code == 405
    # Staff may edit any service.
    client.force_login(catalog["staff"])
    assert client.post(settings_url(), valid_settings(name="By staff")).status_code == 302


def test_service_update_checks_permission_itself(catalog):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.service_update(service=catalog["checkout"], user=catalog["charlie"], name="x")


def test_only_owners_see_edit_controls(client, catalog):
    client.force_login(catalog["charlie"])
    html = client.get(detail_url()).content.decode()
    assert settings_url() not in html
    client.force_login(catalog["alice"])
    assert settings_url() in client.get(detail_url()).content.decode()


def test_read_pages_refuse_post(client, catalog):
    client.force_login(catalog["alice"])
    assert client.post(detail_url()).status_code == 405
    assert client.get(detail_url("no-such-service")).status_code == 404


def test_overview_query_count_is_constant(client, catalog, django_assert_max_num_queries):
    client.force_login(catalog["alice"])
    with django_assert_max_num_queries(14) as few:
        client.get(detail_url())
    for n in range(6):
        other = services.service_create(
            user=catalog["alice"], owner=catalog["payments"], slug=f"dep-{n}", kind="lambda"
        )
        other.depends_on.add(catalog["checkout"])
    services.service_update(
        service=catalog["checkout"],
        user=catalog["alice"],
        name="Checkout",
        depends_on=list(Service.objects.filter(slug__startswith="dep-")),
    )
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = client.get(detail_url()).content.decode()
    assert html.count(">dep-") == 12  # six each way


def test_console_links():
    assert console_url("arn:aws:lambda:eu-west-1:123456789012:function:orders-dev") == (
        "https://eu-west-1.console.aws.amazon.com/lambda/home?region=eu-west-1#/functions/orders-dev"
    )
    assert console_url("arn:aws:iam::123456789012:role/slipway-dev-lambda-exec") == (
        "https://console.aws.amazon.com/iam/home#/roles/details/slipway-dev-lambda-exec"
    )
    assert console_url("arn:aws:ecs:us-east-1:123456789012:service/main/web").startswith(
        "https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/main/services/web"
    )
    assert console_url("arn:aws:sns:us-east-1:123456789012:topic").startswith(
        "https://console.aws.amazon.com/go/view?arn=arn%3Aaws%3Asns"
    )
    assert console_url("sg-12345") == ""


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_overview_lists_the_resources_aws_created_with_console_links(
    client, personas, aws_clean, celery_worker
):
    from portal.aws import aws_client

    deployment = launch(client, personas, user=personas["alice"], name="orders")
    done = wait_for(
        lambda: (
            Deployment.objects.filter(pk=deployment.pk, status="succeeded").first()
            or Deployment.objects.filter(pk=deployment.pk, status__in=Deployment.FINISHED).first()
        ),
        message="deployment did not finish",
    )
    assert done.status == "succeeded", done.error
    function_arn = aws_client("lambda").get_function(FunctionName="orders-dev")["Configuration"][
        "FunctionArn"
    ]
    client.force_login(personas["charlie"])  # reading needs no ownership
    html = client.get(detail_url("orders")).content.decode()
    assert function_arn in html
    assert "lambda/home?region=us-east-1#/functions/orders-dev" in html
    assert "Lambda function" in html and "Alias live" in html
    # The environment's execution role exists in AWS but is shared, not this service's own:
    # neither shown on its Overview nor recorded as its resource.
    role_arn = aws_client("iam").get_role(RoleName="slipway-dev-lambda-exec")["Role"]["Arn"]
    resources = html.split('id="env-dev"', 1)[1].split("</article>", 1)[0]
    assert function_arn in resources
    assert role_arn not in resources
    done.instance.refresh_from_db()
    assert role_arn not in done.instance.resources.values()
    assert "In sync with the applied spec" in html
    assert 'class="status status-healthy"' in html
