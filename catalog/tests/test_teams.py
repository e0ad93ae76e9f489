"""Team pages: a team's services, members and recent deployments."""

from django.urls import reverse

from catalog.tests.conftest import launch


def test_team_page_lists_services_members_and_recent_deployments(client, catalog, aws_emulator):
    deployment = launch(client, catalog, user=catalog["alice"], name="payouts")
    client.force_login(catalog["charlie"])  # any signed-in user may read it
    response = client.get(reverse("catalog:team_detail", args=["payments"]))
    assert response.status_code == 200
    html = response.content.decode()
    services = html.split('id="services-heading"', 1)[1].split("</section>", 1)[0]
    for name in ("Checkout", "ledger", "payouts"):
        assert f">{name}</a>" in services
    assert "indexer" not in services  # owned by search
    members = html.split('id="members-heading"', 1)[1].split("</section>", 1)[0]
    assert "alice" in members and "bob" in members and "charlie" not in members
    recent = html.split('id="deployments-heading"', 1)[1].split("</section>", 1)[0]
    assert f'href="/deployments/{deployment.pk}/"' in recent
    assert "Queued" in recent and "alice" in recent


def test_team_list_counts_services_and_members(client, catalog):
    client.force_login(catalog["alice"])
    html = client.get(reverse("catalog:team_list")).content.decode()
    payments = html.split("<main", 1)[1].split(">Payments</a>", 1)[1].split("</tr>", 1)[0]
    assert ">2</a>" in payments and "<td>2</td>" in payments


def test_navigation_offers_the_users_teams_and_a_global_search(client, catalog):
    client.force_login(catalog["alice"])
    html = client.get(reverse("catalog:team_list")).content.decode()
    nav = html.split('class="topbar"', 1)[1].split("</header>", 1)[0]
    assert 'href="/catalog/teams/payments/"' in nav and "/catalog/teams/search/" not in nav
    assert 'id="global-q" name="q"' in nav and 'action="/catalog/"' in nav
    assert "alice" in nav


def test_team_pages_are_read_only_and_404_for_unknown_teams(client, catalog):
    client.force_login(catalog["alice"])
    assert client.post(reverse("catalog:team_list")).status_code == 405
    assert client.post(reverse("catalog:team_detail", args=["payments"])).status_code == 405
    assert client.get(reverse("catalog:team_detail", args=["nobody"])).status_code == 404


def test_team_pages_need_login(client, catalog):
    response = client.get(reverse("catalog:team_detail", args=["payments"]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
