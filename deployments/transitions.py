"""Which actions a deployment allows, and to whom: the one table the buttons and services share.

Each `Transition` names the statuses it starts from (the `WHERE status IN (...)` of the single
conditional UPDATE the service runs), the statuses it can lead to, and who may take it. The
deployment page shows exactly the buttons `allowed_actions` returns; the services call
`Transition.check_user` and update only rows whose status is in `sources`. To add an action,
add an entry here, a service, a URL and a button.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from django.core.exceptions import PermissionDenied
from django.utils import timezone

from deployments.models import Deployment

S = Deployment.Status


class Who(StrEnum):
    REQUESTER = "requester"  # the owner-team member who planned it
    TEAMMATE = "teammate"  # an owner-team member other than the requester
    OWNER = "owner"  # any owner-team member
    SYSTEM = "system"  # Slipway itself (beat tasks); never a button


def _always(deployment: Deployment) -> bool:
    return True


@dataclass(frozen=True)
class Transition:
    action: str
    sources: tuple[str, ...]  # the statuses the conditional UPDATE accepts
    targets: tuple[str, ...]  # where it can lead (empty: the row keeps its status)
    who: Who
    done: str  # past participle for messages: "confirmed", "approved", ...
    applies: Callable[[Deployment], bool] = _always  # extra rules on the row itself

    def user_may(self, deployment: Deployment, user) -> bool:
        """Whether `user` is the right person, whatever the status."""
        return deployment.instance.service.owned_by(user) and self._person_may(deployment, user)

    def _person_may(self, deployment: Deployment, user) -> bool:
        """The rule on who, for a member of the owner team (no query)."""
        if self.who == Who.SYSTEM:
            return False
        if self.who == Who.REQUESTER:
            return deployment.requested_by_id == user.pk
        if self.who == Who.TEAMMATE:
            return deployment.requested_by_id != user.pk
        return True

    def check_user(self, deployment: Deployment, user) -> None:
        """Raise PermissionDenied (403) when `user` may never take this action on it (one
        membership query: the team is checked once, then the rule on who)."""
        if not deployment.instance.service.owned_by(user):
            raise PermissionDenied("Only members of the owner team can change this service.")
        if not self._person_may(deployment, user):
            raise PermissionDenied(REFUSED_PEOPLE[self.who].format(action=self.action))

    def open_on(self, deployment: Deployment) -> bool:
        """Whether the row, as read, is in a state this action starts from."""
        return deployment.status in self.sources and self.applies(deployment)

    def permits(self, deployment: Deployment, user) -> bool:
        return self.open_on(deployment) and self.user_may(deployment, user)


REFUSED_PEOPLE = {
    Who.REQUESTER: "Only the person who planned this change can {action} it.",
    Who.TEAMMATE: "You cannot {action} your own change; ask a teammate.",
    Who.OWNER: "Only members of the owner team can change this service.",
    Who.SYSTEM: "Slipway does this by itself.",
}


def _approval_open(deployment: Deployment) -> bool:
    expires = deployment.approval_expires_at
    return expires is None or expires >= timezone.now()


def _revertible(deployment: Deployment) -> bool:
    return deployment.action != Deployment.Action.DELETE


def _first_create_failed(deployment: Deployment) -> bool:
    """A failed first create, while its instance still runs nothing."""
    return (
        deployment.action == Deployment.Action.CREATE and deployment.instance.applied_spec is None
    )


CONFIRM = Transition(
    "confirm", (S.PLANNED,), (S.QUEUED, S.AWAITING_APPROVAL), Who.REQUESTER, "confirmed"
)
APPROVE = Transition(
    "approve", (S.AWAITING_APPROVAL,), (S.QUEUED,), Who.TEAMMATE, "approved", _approval_open
)
REJECT = Transition("reject", (S.AWAITING_APPROVAL,), (S.CANCELLED,), Who.TEAMMATE, "rejected")
CANCEL = Transition(
    "cancel", (S.PLANNED, S.AWAITING_APPROVAL, S.QUEUED), (S.CANCELLED,), Who.OWNER, "cancelled"
)
# Retry and revert plan a new deployment with an earlier one's spec (`reverts` points at it);
# the earlier row keeps its status. A person's second such plan while the first is still
# unconfirmed is refused by a constraint (one_planned_revert_per_person), so double clicks and
# concurrent requests make one plan.
RETRY = Transition("retry", (S.FAILED,), (), Who.OWNER, "retried", _first_create_failed)
REVERT = Transition("revert", (S.SUCCEEDED,), (), Who.OWNER, "reverted to", _revertible)
EXPIRE = Transition("expire", (S.AWAITING_APPROVAL,), (S.CANCELLED,), Who.SYSTEM, "expired")

# In the order the buttons appear.
TRANSITIONS: dict[str, Transition] = {
    t.action: t for t in (CONFIRM, APPROVE, REJECT, CANCEL, RETRY, REVERT, EXPIRE)
}


def allowed_actions(deployment: Deployment, user) -> list[str]:
    """The actions `user` may take on `deployment` now: the buttons the page shows."""
    if not deployment.instance.service.owned_by(user):
        return []
    return [name for name, t in TRANSITIONS.items() if t.permits(deployment, user)]
