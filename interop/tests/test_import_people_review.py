"""Importing Backstage Users: who joins which team, said in the report and the audit log."""

from django.contrib.auth import get_user_model

from audit.models import AuditEvent
from catalog.models import Membership, Team
from interop.importer import catalog_import


def run(text: str):
    return catalog_import(files=[("catalog-info.yaml", text)], actor=None, source="cli")


def members(slug: str) -> set[str]:
    return set(Membership.objects.filter(team__slug=slug).values_list("user__username", flat=True))


USER_IN_PAYMENTS = """\
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: charlie}
spec: {memberOf: [payments]}
"""


def test_a_membership_an_import_adds_is_in_the_report_and_the_audit_log(client, personas):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from interop.tests.uploads import upload

    assert "charlie" not in members("payments")
    client.force_login(personas["staff"])
    file = SimpleUploadedFile("users.yaml", USER_IN_PAYMENTS.encode(), "application/yaml")
    page = upload(client, [file]).content.decode()
    assert "charlie" in members("payments")
    # A new User record used to say only "Created User charlie": the membership went unseen.
    assert "<h3>Memberships added</h3><ul><li>charlie joins team payments</li>" in page
    event = AuditEvent.objects.filter(action="catalog.import").latest("pk")
    assert event.after["memberships"] == ["charlie joins team payments"]
    # Imported again: nothing new to say.
    assert run(USER_IN_PAYMENTS).memberships == []


def test_a_user_whose_email_two_accounts_share_matches_neither(db):
    model = get_user_model()
    model.objects.create_user("ann1", email="ann@example.com")
    model.objects.create_user("ann2", email="ann@example.com")
    model.objects.create_user("ann", email="someone.else@example.com")  # another person
    Team.objects.create(slug="payments", name="Payments")
    report = run(
        "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata: {name: ann}\n"
        "spec: {profile: {email: ann@example.com}, memberOf: [payments]}\n"
    )
    assert members("payments") == set()
    assert any("ann@example.com is the email of 2 Slipway accounts" in w for w in report.warnings)


def test_a_users_personal_team_never_takes_over_a_real_team(personas):
    real = Team.objects.create(slug="user-dave", name="User Dave's real team")
    report = run(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: dave-app}\n"
        "spec: {type: service, lifecycle: production, owner: 'user:dave'}\n"
    )
    real.refresh_from_db()
    assert real.name == "User Dave's real team"
    assert not real.services.exists()
    assert any("team 'user-dave' already exists" in e for e in report.errors), report.errors


def test_a_group_never_takes_over_a_users_personal_team(personas):
    run(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: alice-app}\n"
        "spec: {type: service, lifecycle: production, owner: 'user:alice'}\n"
    )
    assert members("user-alice") == {"alice"}
    report = run(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: user-alice}\n"
        "spec: {type: team, children: [], members: [charlie]}\n"
    )
    assert members("user-alice") == {"alice"}
    assert Team.objects.get(slug="user-alice").name == "alice (user)"
    assert any("holds what a Backstage user owns" in e for e in report.errors), report.errors
