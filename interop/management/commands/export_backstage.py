"""manage.py export_backstage [--output FILE] — the catalog as Backstage catalog-info YAML."""

from django.core.management.base import BaseCommand

from interop.exporter import catalog_export


class Command(BaseCommand):
    help = "Export teams, systems, services and APIs as Backstage entities (multi-document YAML)."

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", default="", help="file to write (default: stdout)")

    def handle(self, *args, output, **options):
        text = catalog_export()
        if output:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text)
            self.stdout.write(f"Wrote {output}")
        else:
            self.stdout.write(text, ending="")
