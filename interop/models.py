"""What a Backstage entity carries that the catalog's own columns do not.

The catalog keeps the facts Slipway acts on (Team, Service: owner, lifecycle, system,
dependencies, tags). A Backstage entity also has a title, annotations, links, a spec.type,
`providesApis`, an API definition, a System's own description... Those live here, one row per
imported entity, so an export gives back what was imported and a re-import changes nothing.
"""

from django.db import models


class EntityRecord(models.Model):
    """One Backstage entity (kind + namespace + name) and the catalog row it maps to."""

    class Kind(models.TextChoices):
        COMPONENT = "Component"  # → catalog Service (its deployable kind from spec.type)
        API = "API"  # → catalog Service of kind apigateway; definition kept here
        SYSTEM = "System"  # → Service.system on its components; owner/description kept here
        GROUP = "Group"  # → catalog Team (+ memberships of known users)

    kind = models.CharField(max_length=20, choices=Kind.choices)
    namespace = models.CharField(max_length=63, default="default")
    name = models.CharField(max_length=63)
    service = models.OneToOneField(
        "catalog.Service", null=True, blank=True, on_delete=models.CASCADE, related_name="entity"
    )
    team = models.ForeignKey(
        "catalog.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="entities"
    )
    title = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    spec_type = models.CharField(max_length=63, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    links = models.JSONField(default=list, blank=True)
    labels = models.JSONField(default=dict, blank=True)
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
