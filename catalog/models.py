"""The service catalog: who owns what, where it runs, and what Slipway knows about it in AWS."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse

from catalog.fields import SearchDocument, SearchDocumentField

slug_validator = RegexValidator(
    r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$",
    "Use 2–40 lowercase letters, digits and hyphens, starting with a letter and not ending "
    "with a hyphen.",
)


class Team(models.Model):
    """A group of people who own services and may change them."""

    slug = models.SlugField(unique=True, validators=[slug_validator])
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="teams"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Membership(models.Model):
    """A user's place in a team."""

    class Role(models.TextChoices):
        MEMBER = "member"  # may deploy and edit the team's services
        MAINTAINER = "maintainer"  # also manages the team's members

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="unique_team_membership")
        ]

    def __str__(self):
        return f"{self.user} in {self.team} ({self.role})"


class Environment(models.Model):
    """An AWS account + region that services are deployed to (dev, staging, prod...)."""

    slug = models.SlugField(unique=True, validators=[slug_validator])
    name = models.CharField(max_length=100)
    aws_account_id = models.CharField(
        max_length=12,
        validators=[RegexValidator(r"^\d{12}$", "An AWS account id is 12 digits.")],
    )
    region = models.CharField(max_length=30, default="us-east-1")
    role_arn = models.CharField(
        max_length=2048, blank=True, help_text="Role Slipway assumes in this account (empty: none)."
    )
    external_id = models.CharField(max_length=1224, blank=True)
    ecs_cluster = models.CharField(max_length=255, blank=True)
    vpc_id = models.CharField(max_length=64, blank=True)
    subnet_ids = models.JSONField(default=list, blank=True)
    security_group_ids = models.JSONField(default=list, blank=True)
    alb_arn = models.CharField(max_length=2048, blank=True, help_text="Shared load balancer.")
    alb_listener_arn = models.CharField(
        max_length=2048, blank=True, help_text="Listener that services add their rules to."
    )
    requires_approval = models.BooleanField(
        default=False, help_text="Deployments here need a second team member to approve."
    )
    # Scaling guardrails, checked before a deployment is recorded.
    max_scale_down_percent = models.PositiveSmallIntegerField(
        default=50, help_text="Largest cut in one step, in % of the current count/limit."
    )
    allow_scale_to_zero = models.BooleanField(
        default=True, help_text="May a service be scaled to 0 tasks / 0 concurrency here?"
    )
    max_task_count = models.PositiveIntegerField(
        default=50, help_text="Cap on ECS desired count and auto-scaling max."
    )
    max_lambda_concurrency = models.PositiveIntegerField(
        default=200, help_text="Cap on reserved plus provisioned concurrency per function."
    )
    max_api_rate_limit = models.PositiveIntegerField(
        default=10000, help_text="Cap on API stage throttling rate (requests per second)."
    )
    order = models.PositiveSmallIntegerField(default=0, help_text="Display order (dev first).")

    class Meta:
        ordering = ["order", "slug"]

    def __str__(self):
        return self.name

    def clean(self):
        # A role without the account it belongs to cannot be checked by a human reviewer.
        if self.role_arn and f":{self.aws_account_id}:" not in self.role_arn:
            raise ValidationError(
                {"role_arn": "The role must belong to this environment's account."}
            )


class Service(models.Model):
    """Something a team runs: a Lambda function, an ECS service or an API (or, of kind
    "resource", infrastructure the catalog only records)."""

    class Kind(models.TextChoices):
        LAMBDA = "lambda", "Lambda function"
        ECS = "ecs", "ECS service"
        APIGATEWAY = "apigateway", "API Gateway API"
        DYNAMODB = "dynamodb", "DynamoDB table"
        STEPFUNCTIONS = "stepfunctions", "Step Functions workflow"
        SNS = "sns", "SNS topics"
        # Catalog-only: a Backstage Resource (a database, a bucket...) Slipway does not run.
        RESOURCE = "resource", "Catalog resource"

    class Lifecycle(models.TextChoices):
        EXPERIMENTAL = "experimental"  # early, may go away
        PRODUCTION = "production"  # relied upon
        DEPRECATED = "deprecated"  # on its way out

    slug = models.SlugField(unique=True, validators=[slug_validator])
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    owner = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="services")
    lifecycle = models.CharField(
        max_length=20, choices=Lifecycle.choices, default=Lifecycle.EXPERIMENTAL
    )
    system = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    repo_url = models.URLField(blank=True)
    docs_url = models.URLField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    depends_on = models.ManyToManyField(
        "self", symmetrical=False, blank=True, related_name="dependents"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # What the catalog search reads (catalog/fields.py): generated and kept by the database.
    search_document = models.GeneratedField(
        expression=SearchDocument(), output_field=SearchDocumentField(), db_persist=True
    )

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("catalog:service_detail", args=[self.slug])

    def owned_by(self, user) -> bool:
        """True if `user` may change this service: staff, or a member of the owner team."""
        if not user.is_authenticated:
            return False
        if user.is_staff:
            return True
        return Membership.objects.filter(team_id=self.owner_id, user=user).exists()


class ServiceInstance(models.Model):
    """A service in one environment: the AWS resources it owns and what was last applied."""

    class Status(models.TextChoices):
        NOT_DEPLOYED = "not_deployed"  # nothing in AWS yet
        DEPLOYING = "deploying"  # a deployment is under way
        HEALTHY = "healthy"  # matches the last applied spec
        FAILED = "failed"  # the last deployment failed
        DRIFTED = "drifted"  # AWS differs from the applied spec
        DELETED = "deleted"  # torn down

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="instances")
    environment = models.ForeignKey(Environment, on_delete=models.PROTECT, related_name="instances")
    # Resource role → ARN/id, written the moment AWS creates each one (so a retry adopts it).
    resources = models.JSONField(default=dict, blank=True)
    applied_spec = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NOT_DEPLOYED)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["service", "environment"], name="unique_service_environment"
            )
        ]
        ordering = ["environment__order", "environment__slug"]

    def __str__(self):
        return f"{self.service.slug} in {self.environment.slug}"
