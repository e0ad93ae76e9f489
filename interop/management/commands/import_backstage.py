"""manage.py import_backstage PATH... — import Backstage catalog-info.yaml files or folders.

Any number of files, in any order (Groups and Systems are imported before the Components and
APIs they own). Everything valid is written in one transaction; problems are listed, and the
command exits non-zero when there were any.
"""

import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from audit.services import audit_source
from interop import backstage
from interop.importer import catalog_import


class Command(BaseCommand):
    help = (
        "Import Backstage entities (Group, User, System, Domain, Component, API, Resource; "
        "Locations followed within the files given) from files or folders."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", help="catalog-info.yaml files or folders of them")
        parser.add_argument("--as-user", default="", help="username recorded in the audit log")

    def handle(self, *args, paths, as_user, verbosity=1, **options):
        started = time.monotonic()
        actor = None
        if as_user:
            actor = get_user_model().objects.filter(username=as_user).first()
            if actor is None:
                raise CommandError(f"No user {as_user!r}.")
        files = backstage.files_from_paths(paths)
        if not files:
            raise CommandError("No .yaml/.yml files found at the given paths.")

        def progress(stage: str, done: int, total: int) -> None:
            if verbosity >= 2:
                self.stdout.write(
                    f"{time.monotonic() - started:6.1f} s  {stage} ({done:,} of {total:,})"
                )

        with audit_source("cli"):
            report = catalog_import(files=files, actor=actor, source="cli", progress=progress)
        if verbosity >= 1:
            for line in report.created:
                self.stdout.write(f"created   {line}")
            for line in report.updated:
                self.stdout.write(f"updated   {line}")
            for line in report.warnings:
                self.stdout.write(self.style.WARNING(f"warning   {line}"))
        for line in report.errors:
            self.stderr.write(self.style.ERROR(f"error     {line}"))
        seconds = time.monotonic() - started
        self.stdout.write(f"{report.summary()} ({len(files)} files, {seconds:.1f} s)")
        if report.errors:
            raise CommandError(
                f"{len(report.errors)} problems; the entities named were not imported."
            )
