"""ECS services in discovery."""

from __future__ import annotations

from interop.adopters import MANAGED_TAG, Unmanaged, client


class EcsAdopter:
    """ECS services of every cluster in the account."""

    kind = "ecs"
    adoptable = False

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
                                adoptable=False,
                                tags=tags,
                            )
                        )
        return found


ADOPTER = EcsAdopter()
