"""Links from an ARN to the AWS console page for that resource."""

from __future__ import annotations

from urllib.parse import quote


def console_url(arn: str) -> str:
    """The console page of the resource `arn` names; "" for anything that is not an ARN.

    Well-known kinds get their own page; anything else uses the console's generic
    `go/view?arn=` resolver, which opens the right service for most resource types.
    """
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return ""
    _, partition, service, region, _account, resource = parts
    domain = "console.amazonaws.cn" if partition == "aws-cn" else "console.aws.amazon.com"
    host = f"https://{region}.{domain}" if region else f"https://{domain}"
    if service == "lambda" and resource.startswith("function:"):
        name = resource.split(":")[1]
        return f"{host}/lambda/home?region={region}#/functions/{quote(name)}"
    if service == "iam" and resource.startswith("role/"):
        return f"https://{domain}/iam/home#/roles/details/{quote(resource.rsplit('/', 1)[-1])}"
    if service == "ecs" and resource.startswith("service/"):
        _, cluster, name = (resource.split("/") + ["", ""])[:3]
        return f"{host}/ecs/v2/clusters/{quote(cluster)}/services/{quote(name)}?region={region}"
    if service == "logs" and resource.startswith("log-group:"):
        group = resource.split(":", 1)[1].removesuffix(":*")
        encoded = quote(quote(group, safe=""), safe="").replace("%", "$")
        return f"{host}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/{encoded}"
    if service == "apigateway" and resource.startswith("/restapis/"):
        api_id = resource.split("/")[2]
        return f"{host}/apigateway/main/apis/{api_id}/resources?api={api_id}&region={region}"
    return f"https://{domain}/go/view?arn={quote(arn, safe='')}"
