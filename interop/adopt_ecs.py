"""Adopting an unmanaged ECS Fargate service with its task definition, load balancer target
group and listener rule, and target-tracking auto-scaling.

The live configuration becomes an `EcsSpec`; the names the service already has (cluster,
service, task family, container, log group, target group, listener, scaling policy, execution
role, network) are recorded on the instance, and the ECS provisioner uses them instead of its
own naming (deployments/provisioners/ecs_adopted.py). What an `EcsSpec` cannot express (an EC2
launch type, several load balancers, routing without a path or host rule, step scaling) is
refused with the reason, and nothing is adopted.
"""

from __future__ import annotations

from botocore.exceptions import ClientError
from django.core.exceptions import ValidationError
from pydantic import ValidationError as SpecError

from deployments.provisioners.ecs_aws import (
    METRIC_BY_AWS_NAME,
    SCALABLE_DIMENSION,
    forwards_to,
    rule_condition,
)
from deployments.provisioners.ecs_taskdef import HEALTH_CHECK_RE
from deployments.specs.base import spec_errors
from deployments.specs.ecs import EcsSpec
from interop.adopters import MANAGED_TAG, Live, Unmanaged, client
from portal.aws import error_code, request_id


class EcsAdopter:
    """ECS services of every cluster in the account."""

    kind = "ecs"
    adoptable = True
    identity_key = "service_arn"
    arn_service = "ecs"

    def discover(self, *, environment, actor) -> list[Unmanaged]:
        ecs = client("ecs", environment, actor)
        found = []
        for cluster_page in ecs.get_paginator("list_clusters").paginate():
            for cluster in cluster_page["clusterArns"]:
                arns = []
                for page in ecs.get_paginator("list_services").paginate(cluster=cluster):
                    arns += page["serviceArns"]
                for start in range(0, len(arns), 10):  # DescribeServices takes at most 10
                    described = ecs.describe_services(
                        cluster=cluster, services=arns[start : start + 10], include=["TAGS"]
                    )
                    for svc in described["services"]:
                        tags = {t["key"]: t["value"] for t in svc.get("tags") or []}
                        if MANAGED_TAG in tags:
                            continue
                        found.append(
                            Unmanaged(
                                kind="ecs",
                                name=svc["serviceArn"],
                                arn=svc["serviceArn"],
                                label=svc["serviceName"],
                                detail=f"{svc.get('desiredCount', 0)} task(s) in "
                                f"{cluster.rsplit('/', 1)[-1]}",
                                adoptable=True,
                                tags=tags,
                            )
                        )
        return found

    def read(self, *, environment, name: str, actor) -> Live:
        """`name` is the service's ARN (…:service/<cluster>/<service>)."""
        parts = name.rsplit(":service/", 1)[-1].split("/")
        if len(parts) != 2:
            raise ValidationError({"name": "Give the ECS service's ARN."})
        cluster = parts[0]
        ecs = client("ecs", environment, actor)
        try:
            found = ecs.describe_services(cluster=cluster, services=[name], include=["TAGS"])
        except ClientError as exc:
            if error_code(exc) != "ClusterNotFoundException":
                raise
            found = {"services": []}
        services = [s for s in found["services"] if s.get("status") == "ACTIVE"]
        if not services:
            raise ValidationError({"name": f"No active ECS service {name}."})
        svc = services[0]
        reading = _Reading(environment, actor, cluster, svc, [request_id(found)])
        return reading.live()

    def tag(self, *, environment, live: Live, tags: dict[str, str], actor) -> list:
        ids = []
        ecs = client("ecs", environment, actor)
        for arn in live.tag_targets.get("ecs", []):
            pairs = [{"key": k, "value": v} for k, v in tags.items()]
            ids.append(request_id(ecs.tag_resource(resourceArn=arn, tags=pairs)))
        elb_arns = live.tag_targets.get("elbv2", [])
        if elb_arns:
            pairs = [{"Key": k, "Value": v} for k, v in tags.items()]
            elb = client("elbv2", environment, actor)
            ids.append(request_id(elb.add_tags(ResourceArns=elb_arns, Tags=pairs)))
        aas = client("application-autoscaling", environment, actor)
        for arn in live.tag_targets.get("autoscaling", []):
            ids.append(request_id(aas.tag_resource(ResourceARN=arn, Tags=tags)))
        logs = client("logs", environment, actor)
        for arn in live.tag_targets.get("logs", []):
            ids.append(request_id(logs.tag_resource(resourceArn=arn, tags=tags)))
        return ids

    def untag(self, *, environment, live: Live, keys: list[str], actor) -> None:
        ecs = client("ecs", environment, actor)
        for arn in live.tag_targets.get("ecs", []):
            ecs.untag_resource(resourceArn=arn, tagKeys=keys)
        elb_arns = live.tag_targets.get("elbv2", [])
        if elb_arns:
            client("elbv2", environment, actor).remove_tags(ResourceArns=elb_arns, TagKeys=keys)
        aas = client("application-autoscaling", environment, actor)
        for arn in live.tag_targets.get("autoscaling", []):
            aas.untag_resource(ResourceARN=arn, TagKeys=keys)
        logs = client("logs", environment, actor)
        for arn in live.tag_targets.get("logs", []):
            logs.untag_resource(resourceArn=arn, tagKeys=keys)


def _refuse(message: str) -> ValidationError:
    return ValidationError({"name": f"Slipway cannot adopt this service: {message}"})


class _Reading:
    """Reads one ECS service and what belongs to it into a spec and resource names."""

    def __init__(self, environment, actor, cluster: str, svc: dict, request_ids: list[str]):
        self.environment, self.actor = environment, actor
        self.cluster, self.svc, self.request_ids = cluster, svc, request_ids
        self.resources: dict = {"adopted": True}
        self.spec: dict = {"kind": "ecs"}
        self.target_group_health_path = ""
        self.scaling_targets: list[str] = []  # ScalableTargetARN, to tag

    def _client(self, service: str):
        return client(service, self.environment, self.actor)

    def live(self) -> Live:
        svc = self.svc
        if svc.get("launchType", "FARGATE") != "FARGATE" and not svc.get(
            "capacityProviderStrategy"
        ):
            raise _refuse(f"it runs on {svc.get('launchType')}; Slipway runs Fargate services.")
        definition = self._task_definition()
        balancer = self._load_balancer()
        container = self._container(definition, balancer)
        self._task(definition, container)
        self._scaling()
        vpc = (svc.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
        self.resources.update(
            {
                "cluster": self.cluster,
                "service_name": svc["serviceName"],
                "service_arn": svc["serviceArn"],
                "task_family": definition["family"],
                "task_definition_arn": definition["taskDefinitionArn"],
                "container": container["name"],
                "network": {
                    "subnets": sorted(vpc.get("subnets") or []),
                    "security_groups": sorted(vpc.get("securityGroups") or []),
                    "public_ip": vpc.get("assignPublicIp") or "DISABLED",
                },
            }
        )
        self.spec["desired_count"] = svc["desiredCount"]
        try:
            spec = EcsSpec.model_validate(self.spec).to_json()
        except SpecError as exc:
            reasons = "; ".join(
                f"{'.'.join(map(str, loc))}: {m}" for loc, m in spec_errors(exc.errors())
            )
            raise _refuse(f"its configuration is not a valid Slipway spec ({reasons}).") from exc
        tags = {t["key"]: t["value"] for t in svc.get("tags") or []}
        elb_arns = [
            self.resources[k] for k in ("target_group_arn", "rule_arn") if k in self.resources
        ]
        return Live(
            name=svc["serviceName"],
            spec=spec,
            resources=self.resources,
            description=f"Adopted ECS service {svc['serviceName']} ({self.cluster})",
            managed=MANAGED_TAG in tags,
            request_ids=self.request_ids,
            tag_targets={
                "ecs": [svc["serviceArn"], definition["taskDefinitionArn"]],
                "elbv2": elb_arns,
                "autoscaling": self.scaling_targets,
                "logs": self._log_group_arns(),
            },
        )

    def _log_group_arns(self) -> list[str]:
        """The container's log group, by the ARN TagResource takes (no trailing `:*`)."""
        name = self.resources.get("log_group")
        if not name:
            return []
        found = self._client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        return [
            g.get("logGroupArn") or g["arn"].removesuffix(":*")
            for g in found
            if g["logGroupName"] == name
        ]

    def _task_definition(self) -> dict:
        found = self._client("ecs").describe_task_definition(
            taskDefinition=self.svc["taskDefinition"]
        )
        self.request_ids.append(request_id(found))
        definition = found["taskDefinition"]
        if definition.get("executionRoleArn"):
            self.resources["execution_role"] = definition["executionRoleArn"].rsplit("/", 1)[-1]
        if definition.get("taskRoleArn"):
            self.resources["own_task_role_arn"] = definition["taskRoleArn"]
        return definition

    def _load_balancer(self) -> dict | None:
        balancers = [b for b in self.svc.get("loadBalancers") or [] if b.get("targetGroupArn")]
        if not balancers:
            self.spec["load_balancer"] = None
            return None
        if len(balancers) > 1:
            raise _refuse("it is attached to several target groups.")
        balancer = balancers[0]
        elb = self._client("elbv2")
        group = elb.describe_target_groups(TargetGroupArns=[balancer["targetGroupArn"]])[
            "TargetGroups"
        ][0]
        self.resources.update(
            target_group=group["TargetGroupName"],
            target_group_arn=group["TargetGroupArn"],
        )
        self.target_group_health_path = group.get("HealthCheckPath") or "/"
        for lb_arn in group.get("LoadBalancerArns") or []:
            for listener in elb.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]:
                pages = elb.get_paginator("describe_rules").paginate(
                    ListenerArn=listener["ListenerArn"]
                )
                for rule in (r for page in pages for r in page["Rules"]):
                    condition = _routing(rule, group["TargetGroupArn"])
                    if condition:
                        self.spec["load_balancer"] = condition
                        self.resources.update(
                            listener_arn=listener["ListenerArn"], rule_arn=rule["RuleArn"]
                        )
                        return balancer
        raise _refuse(
            f"no listener rule routes a path or host to its target group "
            f"{group['TargetGroupName']}."
        )

    def _container(self, definition: dict, balancer: dict | None) -> dict:
        containers = definition.get("containerDefinitions") or []
        wanted = balancer["containerName"] if balancer else None
        main = next((c for c in containers if c["name"] == wanted), None) or next(
            (c for c in containers if c.get("essential", True)), None
        )
        if main is None:
            raise _refuse("its task definition has no container.")
        return main

    def _task(self, definition: dict, container: dict) -> None:
        ports = container.get("portMappings") or [{}]
        options = (container.get("logConfiguration") or {}).get("options") or {}
        if options.get("awslogs-group"):
            self.resources["log_group"] = options["awslogs-group"]
        command = " ".join((container.get("healthCheck") or {}).get("command", [])[1:])
        match = HEALTH_CHECK_RE.match(command)
        health = match.group("path") if match else ""
        if not health and self.spec.get("load_balancer"):
            health = self.target_group_health_path
        self.spec.update(
            image=container.get("image"),
            cpu=int(definition.get("cpu") or 0),
            memory=int(definition.get("memory") or 0),
            container_port=ports[0].get("containerPort") or 80,
            environment={e["name"]: e["value"] for e in container.get("environment", [])},
            secrets={s["name"]: s["valueFrom"] for s in container.get("secrets", [])},
            health_check_path=health,
        )

    def _scaling(self) -> None:
        aas = self._client("application-autoscaling")
        resource_id = f"service/{self.cluster}/{self.svc['serviceName']}"
        targets = aas.describe_scalable_targets(
            ServiceNamespace="ecs", ResourceIds=[resource_id], ScalableDimension=SCALABLE_DIMENSION
        )["ScalableTargets"]
        targets = [t for t in targets if t["ResourceId"] == resource_id]
        if not targets:
            self.spec["autoscaling"] = None
            return
        policies = aas.describe_scaling_policies(
            ServiceNamespace="ecs", ResourceId=resource_id, ScalableDimension=SCALABLE_DIMENSION
        )["ScalingPolicies"]
        tracking = [p for p in policies if p.get("PolicyType") == "TargetTrackingScaling"]
        if len(tracking) != 1 or len(policies) != 1:
            raise _refuse("its auto-scaling is not exactly one target-tracking policy.")
        config = tracking[0].get("TargetTrackingScalingPolicyConfiguration") or {}
        aws_metric = (config.get("PredefinedMetricSpecification") or {}).get("PredefinedMetricType")
        if aws_metric not in METRIC_BY_AWS_NAME:
            raise _refuse("it scales on a metric other than CPU, memory or ALB requests.")
        target = float(config.get("TargetValue", 0))
        self.resources["scaling_policy"] = tracking[0]["PolicyName"]
        if targets[0].get("ScalableTargetARN"):
            self.scaling_targets.append(targets[0]["ScalableTargetARN"])
        self.spec["autoscaling"] = {
            "min": targets[0]["MinCapacity"],
            "max": targets[0]["MaxCapacity"],
            "metric": METRIC_BY_AWS_NAME[aws_metric],
            "target": int(target) if target.is_integer() else target,
        }


def _routing(rule: dict, target_group_arn: str) -> dict | None:
    """{"path": …} or {"host": …} when `rule` forwards to the target group on one of them."""
    if not forwards_to(rule, target_group_arn):
        return None
    return rule_condition(rule) or None


ADOPTER = EcsAdopter()
