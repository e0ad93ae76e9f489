"""What Slipway assumes and has estimated about each instance's monthly AWS cost."""

from django.db import models


class InstanceCost(models.Model):
    """One instance's traffic assumptions and the estimate of its applied spec.

    The assumptions (typed on the deploy, update and scale forms) are not part of the AWS
    spec: AWS never receives them, so changing them plans no deployment and is no drift. The
    estimate is denormalized here (refreshed when a deployment succeeds, backfilled by a
    migration and `manage.py costs_refresh`) so the catalog can sort and sum by it.
    """

    instance = models.OneToOneField(
        "catalog.ServiceInstance", on_delete=models.CASCADE, related_name="cost"
    )
    requests_per_month = models.PositiveBigIntegerField(null=True, blank=True)
    duration_ms = models.DecimalField(max_digits=9, decimal_places=1, null=True, blank=True)
    # Dollars per month of the applied spec; null = no figure (`note` says why).
    monthly_usd = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)
    price_date = models.CharField(max_length=10, blank=True)
    estimated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"Cost of {self.instance_id}: {self.monthly_usd}"
