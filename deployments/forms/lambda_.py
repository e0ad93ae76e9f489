"""The Lambda deploy form. It validates everything AWS (or the emulator) would not."""

from __future__ import annotations

import io
import re
import zipfile

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from catalog.models import Environment, Service, Team, slug_validator
from deployments import names

LAMBDA_RUNTIMES = [
    ("python3.13", "Python 3.13"),
    ("python3.12", "Python 3.12"),
    ("python3.11", "Python 3.11"),
    ("nodejs22.x", "Node.js 22"),
    ("nodejs20.x", "Node.js 20"),
    ("java21", "Java 21 (zip upload)"),
    ("ruby3.3", "Ruby 3.3"),
    ("provided.al2023", "Custom runtime on Amazon Linux 2023 (zip upload)"),
]
# Source typed into the form becomes this file in the zip, named after the handler's module.
SOURCE_SUFFIX = {"python": ".py", "nodejs": ".js", "ruby": ".rb"}
HANDLER_RE = re.compile(r"^[A-Za-z0-9_\-/]+(\.[A-Za-z0-9_\-]+)+$")
ENV_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
MAX_ZIP_BYTES = 50 * 1024 * 1024  # AWS's limit for a direct zip upload
MAX_ENV_BYTES = 4 * 1024  # AWS's limit for all environment variables together
DEFAULT_PYTHON_SOURCE = """import json


def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"hello": "from Slipway"})}
"""


def deterministic_zip(filename: str, source: str) -> bytes:
    """Zip one file with fixed timestamps, so the same source gives the same code hash."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(filename, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        archive.writestr(info, source)
    return buffer.getvalue()


def parse_env_vars(text: str) -> dict[str, str]:
    """Parse KEY=VALUE lines; raise ValidationError naming the first bad line."""
    variables: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not ENV_KEY_RE.match(key):
            raise forms.ValidationError(
                f"Line {number}: write KEY=value, with a key of letters, digits and underscores."
            )
        if key.startswith("AWS_"):
            raise forms.ValidationError(f"Line {number}: {key} is reserved by AWS Lambda.")
        variables[key] = value.strip()
    if len(str(variables).encode()) > MAX_ENV_BYTES:
        raise forms.ValidationError("Environment variables may total at most 4 KB.")
    return variables


class LambdaServiceForm(forms.Form):
    """Create a Lambda function service and deploy it to one environment."""

    name = forms.CharField(
        label="Function name",
        max_length=40,
        validators=[slug_validator],
        help_text="Lowercase letters, digits and hyphens. Also the catalog id; the function in "
        "AWS is called <name>-<environment>.",
    )
    owner = forms.ModelChoiceField(queryset=Team.objects.none(), label="Owner team")
    environment = forms.ModelChoiceField(queryset=Environment.objects.all())
    description = forms.CharField(required=False, max_length=256, widget=forms.TextInput)
    runtime = forms.ChoiceField(choices=LAMBDA_RUNTIMES, initial="python3.12")
    handler = forms.CharField(
        max_length=128,
        initial="app.handler",
        help_text="module.function, e.g. app.handler (file app.py, function handler).",
    )
    source = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "class": "code"}),
        initial=DEFAULT_PYTHON_SOURCE,
        help_text="The handler's source file. Leave empty when you upload a zip.",
    )
    code_zip = forms.FileField(
        required=False, label="Or upload a zip", help_text="Up to 50 MB; replaces the source."
    )
    memory_size = forms.IntegerField(
        label="Memory (MB)",
        initial=128,
        validators=[MinValueValidator(128), MaxValueValidator(10240)],
        help_text="128–10240 MB.",
    )
    timeout = forms.IntegerField(
        label="Timeout (s)",
        initial=10,
        validators=[MinValueValidator(1), MaxValueValidator(900)],
        help_text="1–900 seconds.",
    )
    architecture = forms.ChoiceField(
        choices=[("x86_64", "x86_64"), ("arm64", "arm64 (Graviton)")], initial="x86_64"
    )
    env_vars = forms.CharField(
        required=False,
        label="Environment variables",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "class": "code"}),
        help_text="One KEY=value per line. No secrets: reference them from SSM instead.",
    )

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = teams
        if len(teams) == 1:
            self.fields["owner"].initial = teams.first()

    def clean_name(self):
        name = self.cleaned_data["name"]
        if Service.objects.filter(slug=name).exists():
            raise forms.ValidationError("A service with this name already exists.")
        return name

    def clean_handler(self):
        handler = self.cleaned_data["handler"].strip()
        if not HANDLER_RE.match(handler):
            raise forms.ValidationError("Write the handler as module.function, e.g. app.handler.")
        return handler

    def clean_code_zip(self):
        upload = self.cleaned_data.get("code_zip")
        if not upload:
            return None
        if upload.size > MAX_ZIP_BYTES:
            raise forms.ValidationError("The zip is larger than 50 MB.")
        content = upload.read()
        if not zipfile.is_zipfile(io.BytesIO(content)):
            raise forms.ValidationError("This file is not a zip archive.")
        return content

    def clean_env_vars(self):
        return parse_env_vars(self.cleaned_data.get("env_vars", ""))

    def clean(self):
        cleaned = super().clean()
        name, environment = cleaned.get("name"), cleaned.get("environment")
        if name and environment:
            function_name = names.lambda_function(name, environment.slug)
            if len(function_name) > names.LAMBDA_NAME_MAX:
                self.add_error(
                    "name",
                    f"The function name {function_name!r} would be longer than "
                    f"{names.LAMBDA_NAME_MAX} characters.",
                )
        runtime, handler = cleaned.get("runtime"), cleaned.get("handler")
        if cleaned.get("code_zip"):
            cleaned["code"] = cleaned["code_zip"]
        elif cleaned.get("source", "").strip() and runtime and handler:
            family = re.match(r"[a-z]+", runtime).group(0)
            suffix = SOURCE_SUFFIX.get(family)
            if suffix is None:
                self.add_error("code_zip", f"{runtime} needs a zip upload.")
            else:
                module = handler.rsplit(".", 1)[0].replace(".", "/")
                cleaned["code"] = deterministic_zip(module + suffix, cleaned["source"])
        elif runtime and handler:
            self.add_error("source", "Write the handler's source, or upload a zip.")
        return cleaned

    def spec(self) -> dict:
        """The desired spec this form describes; the service adds the stored code's hash."""
        data = self.cleaned_data
        return {
            "kind": "lambda",
            "runtime": data["runtime"],
            "handler": data["handler"],
            "memory_size": data["memory_size"],
            "timeout": data["timeout"],
            "architecture": data["architecture"],
            "description": data["description"],
            "environment": data["env_vars"],
        }
