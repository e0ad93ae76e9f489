"""The names of one ECS instance's resources (`Refs`), in one place for observe, plan and apply.

Derived from catalog slugs in `deployments.names`, except for a service Slipway adopted: that
one keeps the names it had, recorded on the instance (see `ecs_adopted`).
"""

from __future__ import annotations

from dataclasses import dataclass

from deployments import names
from deployments.provisioners import ecs_adopted
from deployments.provisioners.base import Context


@dataclass(frozen=True)
class Refs:
    """Every name this instance's resources have, derived in `deployments.names` (or, for an
    adopted service, the names it had: see `ecs_adopted`)."""

    cluster: str
    service: str
    family: str
    container: str
    log_group: str
    target_group: str
    role: str
    policy: str
    scaling_id: str
    tags: dict
    listener: str  # the listener its rule is on ("" without a load balancer)
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    public_ip: str  # awsvpc assignPublicIp
    adopted: bool

    @classmethod
    def of(cls, ctx: Context) -> Refs:
        service, env = ctx.service.slug, ctx.environment.slug
        own = ecs_adopted.names_of(ctx)
        network = ecs_adopted.network_of(ctx) or {
            "subnets": ctx.environment.subnet_ids,
            "security_groups": ctx.environment.security_group_ids,
            "public_ip": "DISABLED",
        }
        cluster = own.get("cluster") or ctx.environment.ecs_cluster or names.ecs_cluster(env)
        service_name = own.get("service_name") or names.ecs_service(service, env)
        return cls(
            cluster=cluster,
            service=service_name,
            family=own.get("task_family") or names.ecs_task_family(service, env),
            container=own.get("container") or names.ecs_container(service),
            log_group=own.get("log_group") or names.ecs_log_group(service, env),
            target_group=own.get("target_group") or names.ecs_target_group(service, env),
            role=own.get("execution_role") or names.ecs_execution_role(env),
            policy=own.get("scaling_policy") or names.ecs_scaling_policy(service, env),
            scaling_id=names.ecs_scaling_resource_id(cluster.rsplit("/", 1)[-1], service_name),
            tags=names.tags(
                service_slug=service, environment_slug=env, team_slug=ctx.service.owner.slug
            ),
            # An adopted service without a load balancer has no listener (not the env's).
            listener=own.get("listener_arn")
            or ("" if ecs_adopted.is_adopted(ctx) else ctx.environment.alb_listener_arn),
            subnets=tuple(network["subnets"] or ()),
            security_groups=tuple(network["security_groups"] or ()),
            public_ip=network.get("public_ip") or "DISABLED",
            adopted=ecs_adopted.is_adopted(ctx),
        )

    def tag_list(self, key: str = "Key", value: str = "Value") -> list[dict]:
        return [{key: k, value: v} for k, v in self.tags.items()]
