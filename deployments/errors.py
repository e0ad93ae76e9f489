"""Errors of the deployment layer, in a module of their own.

The services raise them and the views, API and tasks catch them; the provisioners raise some of
them too (a route target that is not deployed, an environment without a network). Keeping them
here, below both, means no provisioner imports the service layer above it.
"""

from __future__ import annotations


class DeploymentError(Exception):
    """A request Slipway refuses, with a message for the user."""


class DeploymentConflict(DeploymentError):
    """The instance already has an active deployment."""


class NothingToChange(DeploymentError):
    """AWS already matches the spec: no deployment is created."""


class PlanFailed(DeploymentError):
    """AWS could not be read to make the plan, or the spec cannot be reached from it."""


class RoutedTo(DeploymentError):
    """Other services' APIs route to this one: deleting it would break them."""


class TargetUnavailable(PlanFailed):
    """An API route's target service is not deployed (any more) in this environment."""


class EnvironmentNotReady(PlanFailed):
    """The environment lacks shared infrastructure the kind needs (e.g. an ECS network on real
    AWS, which an admin sets up)."""


class LoadBalancerFull(PlanFailed):
    """The environment's load balancer holds as many listener rules as AWS allows."""
