"""The emulator's Application Auto Scaling tags (portal/emulator_autoscaling.py), over HTTP."""

import pytest
from botocore.exceptions import ClientError

from interop.tests.test_adopt_ecs import make_network, make_service
from portal.aws import aws_client

pytestmark = pytest.mark.integration


def test_scalable_target_tags_are_kept_changed_and_forgotten(personas, aws_clean):
    net = make_network()
    make_service(net, "web", path="/web/*")  # registers a target without tags
    scaling = aws_client("application-autoscaling")
    key = {
        "ServiceNamespace": "ecs",
        "ResourceId": "service/legacy-cluster/web",
        "ScalableDimension": "ecs:service:DesiredCount",
    }
    arn = scaling.register_scalable_target(**key, MinCapacity=1, MaxCapacity=5, Tags={"a": "1"})[
        "ScalableTargetARN"
    ]
    assert scaling.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"a": "1"}
    scaling.tag_resource(ResourceARN=arn, Tags={"b": "2"})
    scaling.untag_resource(ResourceARN=arn, TagKeys=["a"])
    assert scaling.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"b": "2"}

    scaling.deregister_scalable_target(**key)
    with pytest.raises(ClientError) as refused:
        scaling.list_tags_for_resource(ResourceARN=arn)
    assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"
