"""What a Backstage entity carries that the catalog's own columns do not.

The catalog keeps the facts Slipway acts on (Team, Service: owner, lifecycle, system,
dependencies, tags). A Backstage entity also has a title, annotations, links, a spec.type,
`providesApis`, an API definition, a System's own description... Those live here, one row per
imported entity, so an export gives back what was imported and a re-import changes nothing.
"""

from django.conf import settings
from django.db import models
from django.urls import reverse


class EntityRecord(models.Model):
    """One Backstage entity (kind + namespace + name) and the catalog row it maps to."""

    class Kind(models.TextChoices):
        COMPONENT = "Component"  # → catalog Service (its deployable kind from spec.type)
        API = "API"  # → catalog Service of kind apigateway; definition kept here
        SYSTEM = "System"  # → Service.system on its components; owner/description kept here
        GROUP = "Group"  # → catalog Team (+ memberships of known users)
        USER = "User"  # → memberships of the matching account; `team` holds what it owns
        RESOURCE = "Resource"  # → catalog Service (kind "resource" unless Slipway runs it)
        DOMAIN = "Domain"  # kept here: owner, subdomainOf

    kind = models.CharField(max_length=20, choices=Kind.choices)
    namespace = models.CharField(max_length=63, default="default")
    name = models.CharField(max_length=63)
    service = models.OneToOneField(
        "catalog.Service", null=True, blank=True, on_delete=models.CASCADE, related_name="entity"
    )
    team = models.ForeignKey(
        "catalog.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="entities"
    )
    # A User entity's Slipway account (matched by email or username when imported).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="backstage_entities",
    )
    title = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    spec_type = models.CharField(max_length=63, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    links = models.JSONField(default=list, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    # metadata.tags of entities with no Service row (Systems, Domains, Groups, Users).
    tags = models.JSONField(default=list, blank=True)
    # Spec fields with no catalog column: providesApis, consumesApis, definition, ...
    extra_spec = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "namespace", "name"], name="unique_backstage_entity"
            )
        ]
        # The importer finds records by name alone (one `IN` lookup per batch of names; a
        # Component and an API may not share one); the unique constraint leads with kind.
        indexes = [models.Index(fields=["name"], name="interop_entity_name_idx")]
        ordering = ["kind", "namespace", "name"]

    def __str__(self):
        return f"{self.kind.lower()}:{self.namespace}/{self.name}"


class ImportJob(models.Model):
    """One upload of catalog files on the import page, imported by a worker.

    The row is the source of truth the page follows: status and stage, how many entities are
    planned out of how many were read, and at the end the report. Every status change is one
    conditional UPDATE (interop/jobs.py); the uploaded files wait in ImportFile rows until the
    worker has read them.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"  # uploaded; waiting for a worker
        RUNNING = "running"  # a worker holds the lease and is importing
        FINISHED = "finished"  # the import ran; the report lists what changed and any errors
        FAILED = "failed"  # the import stopped on an unexpected error; nothing was written

    class Stage(models.TextChoices):
        WAITING = "waiting", "waiting for a worker"
        READING = "reading", "reading the files"
        PLANNING = "planning", "checking entities and references"
        WRITING = "writing", "writing to the catalog"
        ANALYZING = "analyzing", "refreshing statistics and counts"
        DONE = "done", "done"

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.WAITING)
    file_count = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0, help_text="Entities read from the files.")
    done = models.PositiveIntegerField(default=0, help_text="Entities planned so far.")
    # ImportReport.as_dict(): created/updated/unchanged/warnings/errors lines.
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    lease = models.UUIDField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["created_by", "-created_at"])]

    def __str__(self):
        return f"import {self.pk} ({self.status})"

    def get_absolute_url(self):
        return reverse("interop:import_job", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.FINISHED, self.Status.FAILED)

    @property
    def percent(self) -> int:
        """How far the import is, for the progress bar: planning is the part that scales with
        the entities; the write is one transaction, so it advances in one step."""
        if self.is_finished:
            return 100
        start, width = {
            self.Stage.WAITING: (0, 0),
            self.Stage.READING: (2, 0),
            self.Stage.PLANNING: (10, 50),
            self.Stage.WRITING: (60, 0),
            self.Stage.ANALYZING: (90, 0),
        }.get(self.stage, (99, 0))
        return start + (width * self.done // self.total if self.total else 0)

    def owned_by(self, user) -> bool:
        """Who may follow the job: the uploader, and superusers."""
        return user.pk == self.created_by_id or user.is_superuser


class ImportFile(models.Model):
    """An uploaded file, kept for the worker until its job has read it (then deleted)."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="files")
    name = models.CharField(max_length=255)
    content = models.BinaryField()

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return self.name


class AdoptedResource(models.Model):
    """One AWS resource adopted into the catalog, by its ARN (unique: the one guarantee that
    two people adopting the same resource at once end with one catalog service).

    Written in the same transaction as the adopted instance's rows, before anything is tagged in
    AWS; a row whose instance no longer records the ARN (the service was deleted) is stale.
    """

    arn = models.CharField(max_length=2048, unique=True)
    instance = models.ForeignKey(
        "catalog.ServiceInstance", on_delete=models.CASCADE, related_name="adopted_resources"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.arn
