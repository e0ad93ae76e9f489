"""Tags on Application Auto Scaling targets for the embedded emulator (emulator process only).

Why: moto 5.2.5 implements no tagging for Application Auto Scaling: `TagResource`,
`UntagResource` and `ListTagsForResource` answer HTTP 500 (moto has no handler for them) and
the `Tags` of `RegisterScalableTarget` are dropped. Slipway tags every scalable target it
creates or adopts, as it does every other resource, and reads the tags back in tests.

What this adds: the three calls, keyed by the target's `ScalableTargetARN`, with AWS's
`ResourceNotFoundException` for an unknown ARN, and `RegisterScalableTarget` keeping its `Tags`.
Deregistering a target forgets its tags. Nothing here ever runs against real AWS.
"""

from __future__ import annotations

import json

_installed = False


def install() -> None:
    """Patch moto's Application Auto Scaling responses in this process. Idempotent."""
    global _installed
    if _installed:
        return
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
    from moto.core.exceptions import JsonRESTError

    def _tags(self) -> dict[str, dict[str, str]]:
        backend = self.applicationautoscaling_backend
        if not hasattr(backend, "slipway_tags"):
            backend.slipway_tags = {}
        return backend.slipway_tags

    def _target_arns(self) -> set[str]:
        targets = self.applicationautoscaling_backend.targets
        return {t.arn for by_id in targets.values() for t in by_id.values()}

    def _known(self, arn: str) -> str:
        if arn not in _target_arns(self):
            raise JsonRESTError("ResourceNotFoundException", f"No scalable target {arn}")
        return arn

    def tag_resource(self) -> str:
        arn = _known(self, self._get_param("ResourceARN"))
        _tags(self).setdefault(arn, {}).update(self._get_param("Tags") or {})
        return "{}"

    def untag_resource(self) -> str:
        arn = _known(self, self._get_param("ResourceARN"))
        for key in self._get_param("TagKeys") or []:
            _tags(self).get(arn, {}).pop(key, None)
        return "{}"

    def list_tags_for_resource(self) -> str:
        arn = _known(self, self._get_param("ResourceARN"))
        return json.dumps({"Tags": _tags(self).get(arn, {})})

    original_register = ApplicationAutoScalingResponse.register_scalable_target
    original_deregister = ApplicationAutoScalingResponse.deregister_scalable_target

    def register_scalable_target(self) -> str:
        body = original_register(self)
        tags = self._get_param("Tags")
        if tags:
            _tags(self).setdefault(json.loads(body)["ScalableTargetARN"], {}).update(tags)
        return body

    def deregister_scalable_target(self) -> str:
        before = _target_arns(self)
        body = original_deregister(self)
        for arn in before - _target_arns(self):
            _tags(self).pop(arn, None)
        return body

    ApplicationAutoScalingResponse.tag_resource = tag_resource
    ApplicationAutoScalingResponse.untag_resource = untag_resource
    ApplicationAutoScalingResponse.list_tags_for_resource = list_tags_for_resource
    ApplicationAutoScalingResponse.register_scalable_target = register_scalable_target
    ApplicationAutoScalingResponse.deregister_scalable_target = deregister_scalable_target
    _installed = True
