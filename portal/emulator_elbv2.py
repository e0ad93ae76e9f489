"""AWS's listener-rule quota for the embedded emulator (runs inside the emulator process only).

Why: AWS allows 100 rules per Application Load Balancer, default rules not counted ("Quotas for
your Application Load Balancers"), and `CreateRule` past it fails with `TooManyRules`. moto
5.2.5 counts nothing, so a 101st rule would simply appear. Slipway's ECS provisioner treats
`CreateRule` itself as the guard (it applies against the plan's reading of the listener and
lets AWS refuse what no longer fits), so the emulator must refuse as AWS does.

What this adds: `CreateRule` answers `TooManyRules` (HTTP 400) once the rule's load balancer
holds 100 non-default rules over all its listeners. Nothing here ever runs against real AWS.
"""

from __future__ import annotations

MAX_RULES_PER_LOAD_BALANCER = 100
_installed = False


def install() -> None:
    """Patch moto's ELBv2 backend in this process. Idempotent."""
    global _installed
    if _installed:
        return
    from moto.elbv2 import models
    from moto.elbv2.exceptions import ELBClientError, ListenerNotFoundError

    original_create_rule = models.ELBv2Backend.create_rule

    def create_rule(self, listener_arn, *args, **kwargs):
        listeners = self.describe_listeners(None, [listener_arn])
        if not listeners:
            raise ListenerNotFoundError()
        balancer = self.load_balancers.get(listeners[0].load_balancer_arn)
        siblings = balancer.listeners.values() if balancer else listeners
        taken = sum(len(listener._non_default_rules) for listener in siblings)
        if taken >= MAX_RULES_PER_LOAD_BALANCER:
            raise ELBClientError(
                "TooManyRules", "You've reached the limit on the number of rules per load balancer."
            )
        return original_create_rule(self, listener_arn, *args, **kwargs)

    models.ELBv2Backend.create_rule = create_rule
    _installed = True
