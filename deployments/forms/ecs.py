"""The ECS Fargate forms (create, update, scale). They check what AWS would refuse late, or what
the emulator would not check at all: Fargate cpu/memory pairs, image references, secret ARNs."""

from __future__ import annotations

from django import forms

from deployments.forms.common import NewServiceFields, SpecForm, TimedRevertField
from deployments.forms.dynamodb import format_table_access, parse_table_access, tables_field
from deployments.specs.ecs import FARGATE_MEMORY, EcsSpec, environment_errors

__all__ = ["FARGATE_MEMORY", "EcsScaleForm", "EcsServiceForm", "EcsUpdateForm"]

CPU_CHOICES = [(cpu, f"{cpu} ({cpu / 1024:g} vCPU)") for cpu in FARGATE_MEMORY]
METRICS = [("cpu", "CPU %"), ("memory", "Memory %"), ("requests", "ALB requests per target")]
LB_MODES = [("none", "No load balancer"), ("path", "Path on the shared ALB"), ("host", "Host name")]
TEXTAREA = {"rows": 3, "spellcheck": "false", "class": "code"}
# Where each part of the spec is typed on the form.
ECS_SPEC_FIELDS = {
    "environment": "env_vars",
    "load_balancer": "lb_value",
    "load_balancer.path": "lb_value",
    "load_balancer.host": "lb_value",
    "autoscaling.min": "min_count",
    "autoscaling.max": "max_count",
    "autoscaling.metric": "metric",
    "autoscaling.target": "target",
    "tables": "tables",
}


def parse_pairs(text: str) -> dict[str, str]:
    """Parse NAME=value lines (the spec checks names and values); raise ValidationError on a
    line that is not a pair."""
    pairs: dict[str, str] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise forms.ValidationError(
                f"Line {number}: write NAME=value, with a name of letters, digits and underscores."
            )
        pairs[key.strip()] = value.strip()
    return pairs


def _lines(pairs: dict | None) -> str:
    return "\n".join(f"{k}={v}" for k, v in (pairs or {}).items())


class ScalingFields(SpecForm):
    """Desired count and the optional target-tracking auto-scaling."""

    spec_fields = ECS_SPEC_FIELDS

    desired_count = forms.IntegerField(initial=2)
    autoscaling = forms.BooleanField(required=False, label="Auto-scale")
    min_count = forms.IntegerField(required=False, label="Minimum tasks")
    max_count = forms.IntegerField(required=False, label="Maximum tasks")
    metric = forms.ChoiceField(choices=METRICS, initial="cpu", required=False)
    target = forms.IntegerField(
        required=False,
        label="Target value",
        help_text="Percent for CPU and memory (1–100); requests per target per minute.",
    )

    def clean(self):
        cleaned = super().clean()
        # One checkbox and four boxes encode the spec's optional autoscaling object.
        if cleaned.get("autoscaling"):
            for field in ("min_count", "max_count", "target"):
                if cleaned.get(field) is None and field not in self.errors:
                    self.add_error(field, "Required when auto-scaling is on.")
        return cleaned

    def scaling_spec(self) -> dict:
        data = self.cleaned_data
        autoscaling = None
        if data.get("autoscaling"):
            autoscaling = {"metric": data.get("metric") or "cpu"}
            for field, key in (("min_count", "min"), ("max_count", "max"), ("target", "target")):
                if data.get(field) is not None:
                    autoscaling[key] = data[field]
        spec = {"autoscaling": autoscaling}
        if data.get("desired_count") is not None:
            spec["desired_count"] = data["desired_count"]
        return spec

    def spec(self) -> dict:
        return self.typed_spec.to_json()


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
    """Every field of an ECS spec: the task, the service and its load balancing.

    The fields only parse what is typed; `EcsSpec` holds the limits and rules.
    """

    image = forms.CharField(
        help_text="e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/orders:1.4.2 or nginx:1.27",
    )
    cpu = forms.TypedChoiceField(choices=CPU_CHOICES, coerce=int, initial=256, label="CPU units")
    memory = forms.IntegerField(
        initial=512, label="Memory (MiB)", help_text="Must fit the CPU size (Fargate's pairs)."
    )
    container_port = forms.IntegerField(initial=8080)
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
        help_text="Checked by the load balancer and in the container (needs curl in the image).",
    )
    lb_mode = forms.ChoiceField(choices=LB_MODES, initial="path", label="Load balancing")
    lb_value = forms.CharField(
        required=False,
        label="Path pattern or host",
        help_text="e.g. /orders/* or orders.example.com",
    )
    tables = tables_field()

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
        "tables",
    ]

    def clean_image(self):
        return self.cleaned_data["image"].strip()

    def clean_env_vars(self):
        return parse_pairs(self.cleaned_data.get("env_vars", ""))

    def clean_secrets(self):
        return parse_pairs(self.cleaned_data.get("secrets", ""))

    def clean_tables(self):
        grants, self.spec_lines["tables"] = parse_table_access(self.cleaned_data.get("tables", ""))
        return grants

    def clean_health_check_path(self):
        return self.cleaned_data.get("health_check_path", "").strip()

    def clean(self):
        cleaned = super().clean()
        self.validate_spec(EcsSpec, self.spec_dict())
        return cleaned

    def spec_dict(self) -> dict:
        """The spec as typed (before validation)."""
        data = self.cleaned_data
        spec: dict = {"kind": "ecs", **self.scaling_spec()}
        for field in ("image", "cpu", "memory", "container_port", "secrets", "health_check_path"):
            if data.get(field) is not None:
                spec[field] = data[field]
        if "env_vars" in data:
            spec["environment"] = data["env_vars"]
        mode, value = data.get("lb_mode"), (data.get("lb_value") or "").strip()
        spec["load_balancer"] = {mode: value} if mode in ("path", "host") else None
        if "tables" in data:
            spec["tables"] = data["tables"]
        return spec


class EcsServiceForm(NewServiceFields, EcsSpecFields):
    """Create an ECS Fargate service and deploy it to one environment."""

    name_help = "Lowercase letters, digits and hyphens; the ECS service is <name>-<environment>."
    field_order = ["name", "owner", "environment", "description", *EcsSpecFields.field_order]

    def clean(self):
        cleaned = super().clean()
        environment = cleaned.get("environment")
        if environment and self.typed_spec is not None:
            for field, message in environment_errors(self.typed_spec, environment):
                self.add_error("lb_mode" if field == "load_balancer" else field, message)
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
            "tables": format_table_access(spec.get("tables")),
            **scaling_initial(spec),
        }
        super().__init__(data, files, initial=initial, **kwargs)


class EcsScaleForm(ScalingFields, TimedRevertField):
    """Only the scaling numbers; everything else stays as applied."""

    def __init__(self, data=None, *, spec: dict, **kwargs):
        self.base_spec = spec
        super().__init__(data, initial=scaling_initial(spec), **kwargs)

    def clean(self):
        cleaned = super().clean()
        self.validate_spec(EcsSpec, {**self.base_spec, **self.scaling_spec()})
        return cleaned
