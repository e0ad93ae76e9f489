"""The buttons a deployment page shows are exactly the actions its services accept.

For every status (and the special cases: an expired approval, a succeeded delete) and every
person (the requester, a teammate, another team), the page is read, then each button's POST is
tried on a fresh row in that state: a shown button must work, a hidden one must be refused.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from conftest import launch_lambda
from deployments import tasks, transitions
from deployments.models import Deployment

S = Deployment.Status
BUTTONS = ["confirm", "approve", "reject", "cancel", "retry", "revert"]
STATES = [
    ("planned", {"status": S.PLANNED}),
    ("awaiting_approval", {"status": S.AWAITING_APPROVAL}),
    (
        "awaiting_approval_expired",
        {"status": S.AWAITING_APPROVAL, "approval_expires_at": timezone.now() - timedelta(hours=1)},
    ),
    ("queued", {"status": S.QUEUED}),
    ("running", {"status": S.RUNNING}),
    ("succeeded", {"status": S.SUCCEEDED}),
    ("succeeded_delete", {"status": S.SUCCEEDED, "action": Deployment.Action.DELETE}),
    ("failed", {"status": S.FAILED}),  # a first create (nothing applied): retry
    ("failed_update", {"status": S.FAILED, "action": Deployment.Action.UPDATE}),
    ("rolled_back", {"status": S.ROLLED_BACK}),
    ("cancelled", {"status": S.CANCELLED}),
]
# Who sees and may press what, spelled out (the table in transitions.py must give the same).
EXPECTED = {
    ("planned", "alice"): {"confirm", "cancel"},
    ("planned", "bob"): {"cancel"},
    ("awaiting_approval", "alice"): {"cancel"},
    ("awaiting_approval", "bob"): {"approve", "reject", "cancel"},
    ("awaiting_approval_expired", "alice"): {"cancel"},
    ("awaiting_approval_expired", "bob"): {"reject", "cancel"},
    ("queued", "alice"): {"cancel"},
    ("queued", "bob"): {"cancel"},
    ("succeeded", "alice"): {"revert"},
    ("succeeded", "bob"): {"revert"},
    ("failed", "alice"): {"retry"},
    ("failed", "bob"): {"retry"},
}


@pytest.fixture
def template(personas, aws_clean, monkeypatch):
    """A planned Lambda create in dev (its spec and instance are reused for every row)."""
    monkeypatch.setattr(tasks.run_deployment, "delay", lambda pk: None)
    return launch_lambda(personas, "buttons", confirm=False)


def fresh(template: Deployment, personas, fields: dict) -> Deployment:
    """The instance's only deployment, in the given state, requested by alice."""
    Deployment.objects.filter(instance=template.instance).delete()
    return Deployment.objects.create(
        instance=template.instance,
        action=fields.get("action", Deployment.Action.CREATE),
        spec=template.spec,
        previous_spec=None,
        plan=template.plan,
        requested_by=personas["alice"],
        **{k: v for k, v in fields.items() if k != "action"},
    )


def shown(client, deployment: Deployment) -> set[str]:
    page = client.get(deployment.get_absolute_url())
    assert page.status_code == 200
    html = page.content.decode()
    return {b for b in BUTTONS if reverse(f"deployments:{b}", args=[deployment.pk]) in html}


def accepted(user, deployment: Deployment, button: str) -> bool:
    """POST the button; True when the service did it (a redirect with no refusal message)."""
    client = Client()  # its own session: no message left over from an earlier request
    client.force_login(user)
    response = client.post(reverse(f"deployments:{button}", args=[deployment.pk]))
    refused = [str(m) for m in get_messages(response.wsgi_request)]
    if response.status_code == 403:
        return False
    assert response.status_code == 302, (button, response.status_code)
    return not refused


@pytest.mark.django_db
@pytest.mark.parametrize(("state", "fields"), STATES, ids=[s for s, _ in STATES])
def test_buttons_shown_are_the_actions_accepted(client, personas, template, state, fields):
    for user in ("alice", "bob", "charlie"):
        client.force_login(personas[user])
        expected = EXPECTED.get((state, user), set())
        deployment = fresh(template, personas, fields)
        assert shown(client, deployment) == expected, (state, user)
        assert set(transitions.allowed_actions(deployment, personas[user])) == expected
        for button in BUTTONS:
            deployment = fresh(template, personas, fields)
            assert accepted(personas[user], deployment, button) == (button in expected), (
                state,
                user,
                button,
            )


def test_every_button_has_a_transition_and_a_url():
    assert [a for a in transitions.TRANSITIONS if a != "expire"] == BUTTONS
    for action in BUTTONS:
        assert reverse(f"deployments:{action}", args=[1]).endswith(f"/{action}/")
    assert transitions.TRANSITIONS["expire"].who == transitions.Who.SYSTEM
