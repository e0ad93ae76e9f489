"""The ECS Fargate forms (create, update, scale). They check what AWS would refuse late, or what
the emulator would not check at all: Fargate cpu/memory pairs, image references, secret ARNs."""

from __future__ import annotations

import re

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator

from deployments.forms.common import NewServiceFields
from portal import forms as portal_forms

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
CPU_CHOICES = [(cpu, f"{cpu} ({cpu / 1024:g} vCPU)") for cpu in FARGATE_MEMORY]
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
METRICS = [("cpu", "CPU %"), ("memory", "Memory %"), ("requests", "ALB requests per target")]
LB_MODES = [("none", "No load balancer"), ("path", "Path on the shared ALB"), ("host", "Host name")]
TEXTAREA = {"rows": 3, "spellcheck": "false", "class": "code"}


def parse_pairs(text: str, *, check_value=None) -> dict[str, str]:
    """Parse KEY=value lines; raise ValidationError naming the first bad line."""
    pairs: dict[str, str] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not ENV_KEY_RE.match(key):
            raise forms.ValidationError(
                f"Line {number}: write NAME=value, with a name of letters, digits and underscores."
            )
        if key.startswith("ECS_") or key.startswith("AWS_"):
            raise forms.ValidationError(f"Line {number}: {key} is reserved by ECS.")
        if check_value:
            check_value(number, key, value)
        pairs[key] = value
    return pairs


def _check_secret(number: int, key: str, value: str) -> None:
    if not SECRET_ARN_RE.match(value):
        raise forms.ValidationError(
            f"Line {number}: {key} must reference an SSM parameter ARN "
            "(arn:aws:ssm:<region>:<account>:parameter/…) or a Secrets Manager ARN "
            "(arn:aws:secretsmanager:<region>:<account>:secret:…), never the secret itself."
        )


def _allowed_text(allowed: list[int]) -> str:
    """'512, 1024 or 2048 MiB', or 'a–b MiB in steps of n' for long, even ranges."""
    steps = {b - a for a, b in zip(allowed, allowed[1:], strict=False)}
    if len(allowed) > 4 and len(steps) == 1:
        return f"{allowed[0]}–{allowed[-1]} MiB in steps of {steps.pop()}"
    return f"{', '.join(map(str, allowed[:-1]))} or {allowed[-1]} MiB"


def _lines(pairs: dict | None) -> str:
    return "\n".join(f"{k}={v}" for k, v in (pairs or {}).items())


class ScalingFields(portal_forms.Form):
    """Desired count and the optional target-tracking auto-scaling."""

    desired_count = forms.IntegerField(
        initial=2, validators=[MinValueValidator(0), MaxValueValidator(1000)]
    )
    autoscaling = forms.BooleanField(required=False, label="Auto-scale")
    min_count = forms.IntegerField(
        required=False, label="Minimum tasks", validators=[MinValueValidator(0)]
    )
    max_count = forms.IntegerField(
        required=False, label="Maximum tasks", validators=[MinValueValidator(1)]
    )
    metric = forms.ChoiceField(choices=METRICS, initial="cpu", required=False)
    target = forms.IntegerField(
        required=False,
        label="Target value",
        validators=[MinValueValidator(1), MaxValueValidator(100000)],
        help_text="Percent for CPU and memory (1–100); requests per target per minute.",
    )

    def has_load_balancer(self) -> bool:
        return False

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("autoscaling"):
            return cleaned
        low, high = cleaned.get("min_count"), cleaned.get("max_count")
        desired = cleaned.get("desired_count")
        for field in ("min_count", "max_count", "target"):
            if cleaned.get(field) is None and field not in self.errors:
                self.add_error(field, "Required when auto-scaling is on.")
        if low is not None and high is not None:
            if low > high:
                self.add_error("max_count", "The maximum must be at least the minimum.")
            elif desired is not None and not low <= desired <= high:
                self.add_error("desired_count", f"Pick a count between {low} and {high}.")
        metric, target = cleaned.get("metric") or "cpu", cleaned.get("target")
        if metric in ("cpu", "memory") and target is not None and target > 100:
            self.add_error("target", "A CPU or memory target is a percentage, 1–100.")
        if metric == "requests" and not self.has_load_balancer():
            self.add_error("metric", "Scaling on requests needs a load balancer.")
        return cleaned

    def scaling_spec(self) -> dict:
        data = self.cleaned_data
        autoscaling = None
        if data.get("autoscaling"):
            autoscaling = {
                "min": data["min_count"],
                "max": data["max_count"],
                "metric": data.get("metric") or "cpu",
                "target": data["target"],
            }
        return {"desired_count": data["desired_count"], "autoscaling": autoscaling}


def scaling_initial(spec: dict) -> dict:
    autoscaling = spec.get("autoscaling") or {}
    return {
        "desired_count": spec.get("desired_count"),
        "autoscaling": bool(autoscaling),
        "min_count": autoscaling.get("min"),
        "max_count": autoscaling.get("max"),
        "metric": autoscaling.get("metric", "cpu"),
        "target": autoscaling.get("target"),
    }


class EcsSpecFields(ScalingFields):
    """Every field of an ECS spec: the task, the service and its load balancing."""

    image = forms.CharField(
        max_length=255,
        help_text="e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/orders:1.4.2 or nginx:1.27",
    )
    cpu = forms.TypedChoiceField(choices=CPU_CHOICES, coerce=int, initial=256, label="CPU units")
    memory = forms.IntegerField(
        initial=512, label="Memory (MiB)", help_text="Must fit the CPU size (Fargate's pairs)."
    )
    container_port = forms.IntegerField(
        initial=8080, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    env_vars = forms.CharField(
        required=False,
        label="Environment variables",
        widget=forms.Textarea(attrs=TEXTAREA),
        help_text="One NAME=value per line. No secrets here: use the field below.",
    )
    secrets = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs=TEXTAREA),
        help_text="One NAME=ARN per line: an SSM parameter or Secrets Manager secret ARN.",
    )
    health_check_path = forms.CharField(
        required=False,
        initial="/health",
        max_length=128,
        help_text="Checked by the load balancer and in the container (needs curl in the image).",
    )
    lb_mode = forms.ChoiceField(choices=LB_MODES, initial="path", label="Load balancing")
    lb_value = forms.CharField(
        required=False,
        max_length=128,
        label="Path pattern or host",
        help_text="e.g. /orders/* or orders.example.com",
    )

    field_order = [
        "image",
        "cpu",
        "memory",
        "container_port",
        "env_vars",
        "secrets",
        "health_check_path",
        "lb_mode",
        "lb_value",
        "desired_count",
        "autoscaling",
        "min_count",
        "max_count",
        "metric",
        "target",
    ]

    def has_load_balancer(self) -> bool:
        return self.cleaned_data.get("lb_mode") in ("path", "host")

    def clean_image(self):
        image = self.cleaned_data["image"].strip()
        if not IMAGE_RE.match(image):
            raise forms.ValidationError(
                "Not an image reference: write [registry/]repository[:tag][@sha256:digest], "
                "e.g. nginx:1.27, in lowercase."
            )
        return image

    def clean_env_vars(self):
        return parse_pairs(self.cleaned_data.get("env_vars", ""))

    def clean_secrets(self):
        return parse_pairs(self.cleaned_data.get("secrets", ""), check_value=_check_secret)

    def clean_health_check_path(self):
        path = self.cleaned_data.get("health_check_path", "").strip()
        if path and not re.match(r"^/[\w\-./~]*$", path):
            raise forms.ValidationError("Write a path such as /health.")
        return path

    def clean(self):
        cleaned = super().clean()
        cpu, memory = cleaned.get("cpu"), cleaned.get("memory")
        if cpu and memory is not None and memory not in FARGATE_MEMORY[cpu]:
            self.add_error(
                "memory",
                f"Fargate does not run {cpu} CPU units with {memory} MiB; with {cpu} pick "
                f"{_allowed_text(FARGATE_MEMORY[cpu])}.",
            )
        both = set(cleaned.get("env_vars") or {}) & set(cleaned.get("secrets") or {})
        if both:
            self.add_error("secrets", f"{', '.join(sorted(both))} is also an environment variable.")
        mode, value = cleaned.get("lb_mode"), (cleaned.get("lb_value") or "").strip()
        if mode == "path" and not PATH_RE.match(value):
            self.add_error("lb_value", "Write a path pattern starting with /, e.g. /orders/*.")
        if mode == "host" and not HOST_RE.match(value.lower()):
            self.add_error("lb_value", "Write a host name, e.g. orders.example.com.")
        cleaned["lb_value"] = value.lower() if mode == "host" else value
        return cleaned

    def spec(self) -> dict:
        """The complete desired spec."""
        data = self.cleaned_data
        load_balancer = None
        if data["lb_mode"] in ("path", "host"):
            load_balancer = {data["lb_mode"]: data["lb_value"]}
        return {
            "kind": "ecs",
            "image": data["image"],
            "cpu": data["cpu"],
            "memory": data["memory"],
            "container_port": data["container_port"],
            "environment": data["env_vars"],
            "secrets": data["secrets"],
            "health_check_path": data["health_check_path"],
            "load_balancer": load_balancer,
            **self.scaling_spec(),
        }


class EcsServiceForm(NewServiceFields, EcsSpecFields):
    """Create an ECS Fargate service and deploy it to one environment."""

    name_help = "Lowercase letters, digits and hyphens; the ECS service is <name>-<environment>."
    field_order = ["name", "owner", "environment", "description", *EcsSpecFields.field_order]

    def clean(self):
        cleaned = super().clean()
        environment = cleaned.get("environment")
        # In embedded mode the first deploy creates the network; on real AWS it must exist.
        if environment and not settings.AWS_ENDPOINT_URL:
            if not (environment.subnet_ids and environment.security_group_ids):
                self.add_error(
                    "environment",
                    f"{environment.name} has no subnets or security groups for ECS services yet; "
                    "ask an admin to set them.",
                )
            if cleaned.get("lb_mode") != "none" and not environment.alb_listener_arn:
                self.add_error(
                    "lb_mode", f"{environment.name} has no shared load balancer listener."
                )
        return cleaned


class EcsUpdateForm(EcsSpecFields):
    """Change any part of a deployed ECS service's spec; starts from the applied spec."""

    def __init__(self, data=None, files=None, *, spec: dict, **kwargs):
        lb = spec.get("load_balancer") or {}
        mode = "path" if lb.get("path") else "host" if lb.get("host") else "none"
        initial = {
            "image": spec.get("image"),
            "cpu": spec.get("cpu"),
            "memory": spec.get("memory"),
            "container_port": spec.get("container_port"),
            "env_vars": _lines(spec.get("environment")),
            "secrets": _lines(spec.get("secrets")),
            "health_check_path": spec.get("health_check_path", ""),
            "lb_mode": mode,
            "lb_value": lb.get(mode, ""),
            **scaling_initial(spec),
        }
        super().__init__(data, files, initial=initial, **kwargs)


class EcsScaleForm(ScalingFields):
    """Only the scaling numbers; everything else stays as applied."""

    def __init__(self, data=None, *, spec: dict, **kwargs):
        self.base_spec = spec
        super().__init__(data, initial=scaling_initial(spec), **kwargs)

    def has_load_balancer(self) -> bool:
        return bool(self.base_spec.get("load_balancer"))

    def spec(self) -> dict:
        return {**self.base_spec, **self.scaling_spec()}
