"""The environment's caps hold on a first deploy too (a new service, or one promoted from dev):
only the step rule needs a previous value."""

import pytest

from conftest import launch_lambda
from deployments.guardrails import GuardrailViolation
from deployments.models import Deployment

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_a_first_deploy_above_the_cap_is_refused_and_nothing_is_stored(personas, aws_clean):
    prod = personas["prod"]
    prod.max_lambda_concurrency = 50
    prod.save()
    with pytest.raises(GuardrailViolation, match="reserved concurrency 100 is above"):
        launch_lambda(personas, "ledger", environment="prod", reserved_concurrency=100)
    assert not Deployment.objects.exists()
    # Within the cap it plans as usual.
    deployment = launch_lambda(personas, "ledger", environment="prod", reserved_concurrency=40)
    assert deployment.status == Deployment.Status.AWAITING_APPROVAL
