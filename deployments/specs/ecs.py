"""The ECS Fargate service spec: the task, the service, its load balancing and scaling.

Stored shape (unchanged from before typed specs): kind, image, cpu, memory, container_port,
environment {NAME: value}, secrets {NAME: ARN}, health_check_path, load_balancer ({"path": …}
or {"host": …} or None), desired_count, autoscaling ({min, max, metric, target} or None).
It checks what AWS would refuse late, or what the emulator would not check at all: Fargate
cpu/memory pairs, image references, secret ARNs.
"""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_serializer,
    model_validator,
)

from deployments.specs.base import Spec, invalid
from deployments.specs.dynamodb import TableAccess, unique_tables

# Fargate's allowed task sizes: cpu units → memory (MiB) choices.
FARGATE_MEMORY = {
    256: [512, 1024, 2048],
    512: list(range(1024, 4097, 1024)),
    1024: list(range(2048, 8193, 1024)),
    2048: list(range(4096, 16385, 1024)),
    4096: list(range(8192, 30721, 1024)),
    8192: list(range(16384, 61441, 4096)),
    16384: list(range(32768, 122881, 8192)),
}
Cpu = Literal[256, 512, 1024, 2048, 4096, 8192, 16384]
# [registry[:port]/]repository[/more][:tag][@sha256:digest], as Docker parses image references.
IMAGE_RE = re.compile(
    r"^(?:(?:[a-zA-Z0-9-]+\.)*[a-zA-Z0-9-]+(?::\d+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)
SECRET_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:(?:ssm:[a-z0-9-]+:\d{12}:parameter/[\w./-]+"
    r"|secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+(?::[^:]*:[^:]*:[^:]*)?)$"
)
ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PATH_RE = re.compile(r"^/[A-Za-z0-9_\-.$/~\"'@:+*?&=]{0,127}$")
HOST_RE = re.compile(r"^(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
HEALTH_PATH_RE = re.compile(r"^/[\w\-./~]*$")
MAX_VARIABLES = 200


def allowed_memory_text(allowed: list[int]) -> str:
    """'512, 1024 or 2048 MiB', or 'a–b MiB in steps of n' for long, even ranges."""
    steps = {b - a for a, b in zip(allowed, allowed[1:], strict=False)}
    if len(allowed) > 4 and len(steps) == 1:
        return f"{allowed[0]}–{allowed[-1]} MiB in steps of {steps.pop()}"
    return f"{', '.join(map(str, allowed[:-1]))} or {allowed[-1]} MiB"


def _names(pairs: dict[str, str]) -> None:
    if len(pairs) > MAX_VARIABLES:
        raise invalid(f"At most {MAX_VARIABLES} names.")
    for key in pairs:
        if not ENV_KEY_RE.match(key):
            raise invalid(
                f"{key!r} is not a variable name: use letters, digits and underscores, "
                "not starting with a digit."
            )
        if key.startswith("ECS_") or key.startswith("AWS_"):
            raise invalid(f"{key} is reserved by ECS.")


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoadBalancer(_Part):
    """Exactly one of: a path pattern or a host name on the environment's shared ALB."""

    path: str | None = Field(None, description="A path pattern such as /orders/*.")
    host: str | None = Field(None, description="A host name such as orders.example.com.")

    @field_validator("path")
    @classmethod
    def _path(cls, path: str | None) -> str | None:
        if path is not None and not PATH_RE.match(path):
            raise invalid("Write a path pattern starting with /, e.g. /orders/*.")
        return path

    @field_validator("host")
    @classmethod
    def _host(cls, host: str | None) -> str | None:
        if host is None:
            return None
        host = host.lower()
        if not HOST_RE.match(host):
            raise invalid("Write a host name, e.g. orders.example.com.")
        return host

    @model_validator(mode="after")
    def _one(self) -> LoadBalancer:
        if (self.path is None) == (self.host is None):
            raise invalid("Give a path or a host, not both.", field="path")
        return self

    @model_serializer
    def _stored(self) -> dict:
        # Stored as {"path": …} or {"host": …}, as the provisioner reads it.
        return {"path": self.path} if self.path is not None else {"host": self.host}


class Autoscaling(_Part):
    """Target-tracking auto-scaling between min and max tasks."""

    min: int = Field(ge=0, le=1000)
    max: int = Field(ge=1, le=1000)
    metric: Literal["cpu", "memory", "requests"] = "cpu"
    target: int = Field(
        ge=1,
        le=100000,
        description="Percent for cpu and memory (1–100); requests per target per minute.",
    )

    @field_validator("max")
    @classmethod
    def _max(cls, high: int, info) -> int:
        low = info.data.get("min")
        if low is not None and low > high:
            raise invalid("The maximum must be at least the minimum.")
        return high

    @field_validator("target")
    @classmethod
    def _target(cls, target: int, info) -> int:
        if info.data.get("metric", "cpu") in ("cpu", "memory") and target > 100:
            raise invalid("A CPU or memory target is a percentage, 1–100.")
        return target


class EcsSpec(Spec):
    """An ECS Fargate service as stored on deployments and instances."""

    scale_fields: ClassVar[tuple[str, ...]] = ("desired_count", "autoscaling")

    kind: Literal["ecs"] = "ecs"
    image: str = Field(
        max_length=255,
        description="e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/orders:1.4.2 or nginx:1.27",
    )
    cpu: Cpu = Field(256, description="CPU units (1024 = 1 vCPU).")
    memory: int = Field(512, description="MiB; must fit the CPU size (Fargate's pairs).")
    container_port: int = Field(8080, ge=1, le=65535)
    environment: dict[str, str] = Field(
        default_factory=dict,
        description="Environment variables, NAME: value (no secrets: use `secrets`). "
        "The API never returns their values, only their names.",
    )
    secrets: dict[str, str] = Field(
        default_factory=dict,
        description="NAME: ARN of an SSM parameter or Secrets Manager secret. "
        "The API never returns them, only their names.",
    )
    health_check_path: str = Field("/health", max_length=128)
    load_balancer: LoadBalancer | None = None
    desired_count: int = Field(2, ge=0, le=1000)
    autoscaling: Autoscaling | None = None
    tables: list[TableAccess] = Field(
        default_factory=list,
        max_length=20,
        description="DynamoDB tables the service uses; it gets its own task role with a "
        "least-privilege policy for exactly these tables (and their indexes).",
    )

    @field_validator("tables")
    @classmethod
    def _tables(cls, grants: list[TableAccess]) -> list[TableAccess]:
        return unique_tables(grants)

    @model_serializer(mode="wrap")
    def _stored(self, handler) -> dict:
        data = handler(self)
        if not data.get("tables"):
            data.pop("tables", None)  # specs stored before table access stay as they were
        return data

    @field_validator("image")
    @classmethod
    def _image(cls, image: str) -> str:
        if not IMAGE_RE.match(image):
            raise invalid(
                "Not an image reference: write [registry/]repository[:tag][@sha256:digest], "
                "e.g. nginx:1.27, in lowercase."
            )
        return image

    @field_validator("memory")
    @classmethod
    def _memory(cls, memory: int, info) -> int:
        cpu = info.data.get("cpu")
        if cpu and memory not in FARGATE_MEMORY[cpu]:
            raise invalid(
                f"Fargate does not run {cpu} CPU units with {memory} MiB; with {cpu} pick "
                f"{allowed_memory_text(FARGATE_MEMORY[cpu])}."
            )
        return memory

    @field_validator("environment")
    @classmethod
    def _environment(cls, variables: dict[str, str]) -> dict[str, str]:
        _names(variables)
        return variables

    @field_validator("secrets")
    @classmethod
    def _secrets(cls, secrets: dict[str, str], info) -> dict[str, str]:
        _names(secrets)
        for key, value in secrets.items():
            if not SECRET_ARN_RE.match(value):
                raise invalid(
                    f"{key} must reference an SSM parameter ARN "
                    "(arn:aws:ssm:<region>:<account>:parameter/…) or a Secrets Manager ARN "
                    "(arn:aws:secretsmanager:<region>:<account>:secret:…), never the secret "
                    "itself."
                )
        both = set(info.data.get("environment") or {}) & set(secrets)
        if both:
            raise invalid(f"{', '.join(sorted(both))} is also an environment variable.")
        return secrets

    @field_validator("health_check_path")
    @classmethod
    def _health(cls, path: str) -> str:
        if path and not HEALTH_PATH_RE.match(path):
            raise invalid("Write a path such as /health.")
        return path

    @model_validator(mode="after")
    def _scaling(self) -> EcsSpec:
        scaling = self.autoscaling
        if scaling is None:
            return self
        if scaling.min <= scaling.max and not scaling.min <= self.desired_count <= scaling.max:
            raise invalid(
                f"Pick a count between {scaling.min} and {scaling.max}.", field="desired_count"
            )
        if scaling.metric == "requests" and self.load_balancer is None:
            raise invalid("Scaling on requests needs a load balancer.", field="autoscaling.metric")
        return self


def environment_errors(spec: EcsSpec, environment) -> list[tuple[str, str]]:
    """(field, message) for what `environment` lacks to run this service.

    In embedded mode the first deploy creates the network; on real AWS it must exist.
    """
    from portal.aws import is_emulator

    if is_emulator():  # the embedded environment set-up creates it (portal/embedded.py)
        return []
    errors = []
    if not (environment.subnet_ids and environment.security_group_ids):
        errors.append(
            (
                "environment",
                f"{environment.name} has no subnets or security groups for ECS services yet; "
                "ask an admin to set them.",
            )
        )
    if spec.load_balancer is not None and not environment.alb_listener_arn:
        errors.append(
            ("load_balancer", f"{environment.name} has no shared load balancer listener.")
        )
    return errors
