"""Create the demo admin, team and environments (idempotent; safe to run on every `make run`)."""

import json
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from catalog import services as catalog_services
from catalog.models import Environment, Team
from portal.aws import is_emulator

DEMO_LOGIN_FILE = settings.VAR_DIR / "demo-login.json"
EMULATOR_ACCOUNT_ID = "123456789012"  # moto's fixed account id


def demo_login() -> dict:
    """The demo credentials, generated once per checkout and kept in var/ (never committed)."""
    if DEMO_LOGIN_FILE.exists():
        return json.loads(DEMO_LOGIN_FILE.read_text())
    login = {"username": "admin", "password": secrets.token_urlsafe(9)}
    DEMO_LOGIN_FILE.write_text(json.dumps(login))
    DEMO_LOGIN_FILE.chmod(0o600)
    return login


class Command(BaseCommand):
    help = "Create the demo admin, the demo team and the dev/prod environments."

    def handle(self, *args, **options):
        login = demo_login()
        User = get_user_model()
        admin, _ = User.objects.get_or_create(
            username=login["username"], defaults={"email": "admin@example.com"}
        )
        admin.is_staff = admin.is_superuser = True
        admin.set_password(login["password"])
        admin.save()

        team = Team.objects.filter(slug="platform").first() or catalog_services.team_create(
            slug="platform", name="Platform", description="Demo team that runs the demo services."
        )
        catalog_services.membership_add(team=team, user=admin, role="maintainer")

        account = EMULATOR_ACCOUNT_ID if is_emulator() else ""
        for order, (slug, name, approval) in enumerate(
            [("dev", "Development", False), ("prod", "Production", True)]
        ):
            # Production is treated as such: changes need a second person, and nothing may be
            # scaled to zero there (a guardrail, checked before a deployment is recorded).
            defaults = {
                "name": name,
                "requires_approval": approval,
                "allow_scale_to_zero": not approval,
                "order": order,
            }
            if account:
                defaults["aws_account_id"] = account
            if not Environment.objects.filter(slug=slug).exists() and not account:
                self.stdout.write(
                    f"Skipping environment {slug}: real AWS mode, add it in the admin with "
                    "its account id."
                )
                continue
            Environment.objects.update_or_create(slug=slug, defaults=defaults)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: sign in as {login['username']} / {login['password']}"
            )
        )
