"""The audit log: rows are appended by the service, read on a filtered page, never changed."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record


def test_record_stores_actor_target_and_snapshots(personas):
    service_target = ("catalog.service", "7", "checkout")
    event = audit_record(
        actor=personas["alice"],
        action="service.update",
        target=service_target,
        environment=personas["dev"],
        before={"memory": 128},
        after={"memory": 256, "when": timezone.now()},
        aws_request_ids=["req-1", ""],
        source="api",
    )
    event.refresh_from_db()
    assert event.actor_name == "alice"
    assert (event.target_type, event.target_id, event.target_label) == service_target
    assert event.environment == personas["dev"]
    assert event.before == {"memory": 128}
    assert event.after["memory"] == 256 and isinstance(event.after["when"], str)
    assert event.aws_request_ids == ["req-1"]
    assert (event.result, event.source) == ("ok", "api")


def test_model_target_and_system_actor(personas):
    event = audit_record(actor=None, action="team.sync", target=personas["payments"])
    assert event.actor is None and event.actor_name == ""
    assert event.target_type == "catalog.team"
    assert event.target_id == str(personas["payments"].pk)
    assert str(event).startswith("system team.sync")


def test_rows_cannot_be_changed_or_deleted(personas):
    event = audit_record(actor=personas["alice"], action="x", target="y")
    event.action = "rewritten"
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()
    with pytest.raises(ValueError):
        AuditEvent.objects.filter(pk=event.pk).update(action="rewritten")
    with pytest.raises(ValueError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "x"


def test_unknown_source_is_refused(personas):
    with pytest.raises(ValueError):
        audit_record(actor=None, action="x", target="y", source="carrier-pigeon")


def test_page_filters_and_paginates(client, personas):
    earlier = AuditEvent.objects.count()  # the personas' teams and memberships
    for i in range(55):
        audit_record(actor=personas["alice"], action="service.update", target=f"svc-{i}")
    audit_record(
        actor=personas["charlie"],
        action="token.create",
        target="charlie's token",
        environment=personas["prod"],
        source="api",
        result="denied",
    )
    client.force_login(personas["charlie"])
    url = reverse("audit:event_list")

    response = client.get(url)
    assert response.status_code == 200
    assert response.context["page"].paginator.count == earlier + 56
    assert len(response.context["page"].object_list) == 50
    assert client.get(url, {"page": 2}).context["page"].object_list[0].target_label == "svc-5"

    for params in (
        {"actor": "charlie"},
        {"action": "token."},
        {"environment": "prod"},
        {"source": "api"},
        {"result": "denied"},
    ):
        page = client.get(url, params).context["page"]
        assert [e.action for e in page] == ["token.create"], params
    assert b"charlie&#x27;s token" in client.get(url, {"actor": "charlie"}).content

    today = timezone.localdate()
    assert client.get(url, {"since": today}).context["page"].paginator.count == earlier + 56
    old = today - timedelta(days=3)
    assert client.get(url, {"until": old}).context["page"].paginator.count == 0


def test_bad_date_range_is_reported_next_to_the_field(client, personas):
    client.force_login(personas["alice"])
    response = client.get(
        reverse("audit:event_list"), {"since": "2026-02-02", "until": "2026-01-01"}
    )
    assert response.status_code == 400
    assert "until" in response.context["form"].errors


def test_page_needs_login(client, db):
    response = client.get(reverse("audit:event_list"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_admin_is_read_only(client, personas):
    personas["staff"].is_superuser = True
    personas["staff"].save()
    event = audit_record(actor=personas["alice"], action="x", target="y")
    client.force_login(personas["staff"])
    assert client.get(reverse("admin:audit_auditevent_changelist")).status_code == 200
    assert client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    assert client.get(reverse("admin:audit_auditevent_delete", args=[event.pk])).status_code == 403
    response = client.post(
        reverse("admin:audit_auditevent_change", args=[event.pk]), {"action": "z"}
    )
    assert response.status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).action == "x"


def test_source_comes_from_the_surrounding_context(personas):
    from audit.services import audit_source

    with audit_source("cli"):
        inner = audit_record(actor=None, action="x", target="y")
        explicit = audit_record(actor=None, action="x", target="y", source="admin")
    outer = audit_record(actor=None, action="x", target="y")
    assert (inner.source, explicit.source, outer.source) == ("cli", "admin", "web")


def test_removing_a_user_keeps_their_history(personas):
    from django.contrib.auth import get_user_model

    loner = get_user_model().objects.create_user("loner")
    event = audit_record(actor=loner, action="x", target="y")
    loner.delete()
    event.refresh_from_db()
    assert event.actor is None and event.actor_name == "loner"


def test_admin_edits_are_audited(client, personas):
    from catalog.models import Team

    personas["staff"].is_superuser = True
    personas["staff"].save()
    client.force_login(personas["staff"])
    team = personas["search"]
    response = client.post(
        reverse("admin:catalog_team_change", args=[team.pk]),
        {
            "slug": "search",
            "name": "Search Team",
            "description": "",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[-800:]
    assert Team.objects.get(pk=team.pk).name == "Search Team"
    event = AuditEvent.objects.get(action="admin.change")
    assert (event.actor, event.source, event.target_type) == (
        personas["staff"],
        "admin",
        "catalog.team",
    )
    assert event.target_id == str(team.pk) and "Name" in event.after["change"]
