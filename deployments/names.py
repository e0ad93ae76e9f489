"""Names of the AWS resources Slipway creates, derived from catalog slugs in this one place.

Every part of Slipway (provisioners, monitoring, discovery, cleanup) asks here, so they agree on
names, and a human can find a service's resources in the AWS console by its slug.
"""

LAMBDA_NAME_MAX = 64


def lambda_function(service_slug: str, environment_slug: str) -> str:
    return f"{service_slug}-{environment_slug}"


def lambda_role(environment_slug: str) -> str:
    return f"slipway-{environment_slug}-lambda-exec"


def lambda_log_group(function_name: str) -> str:
    return f"/aws/lambda/{function_name}"


def tags(*, service_slug: str, environment_slug: str, team_slug: str) -> dict[str, str]:
    """The tags on every resource Slipway creates; discovery and cleanup rely on them."""
    return {
        "slipway:service": service_slug,
        "slipway:environment": environment_slug,
        "slipway:team": team_slug,
        "managed-by": "slipway",
    }
