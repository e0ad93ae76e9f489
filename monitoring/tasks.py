"""Celery tasks for monitoring: the embedded-mode demo traffic generator."""

from celery import shared_task

from monitoring import demo
from portal.aws import is_emulator


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=60)
def demo_traffic() -> None:
    """Beat, every minute, in embedded mode only: one minute of demo traffic per instance."""
    if not is_emulator():  # never against real AWS, even if scheduled by mistake
        return
    for instance in demo.demo_instances():
        demo.demo_traffic_write(instance=instance)
