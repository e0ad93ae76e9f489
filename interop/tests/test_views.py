"""The import page (staff), the export download, and who may use them."""

from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from catalog.models import Service, Team
from interop import backstage

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "backstage"


def example_uploads():
    return [
        SimpleUploadedFile(Path(name).name, content, content_type="application/yaml")
        for name, content in backstage.files_from_paths([EXAMPLES])
    ]


def test_staff_imports_by_upload_and_sees_the_report(client, personas):
    client.force_login(personas["staff"])
    assert client.get(reverse("interop:import")).status_code == 200
    response = client.post(reverse("interop:import"), {"files": example_uploads()})
    assert response.status_code == 200
    report = response.context["report"]
    assert report.errors == [] and "Component checkout" in report.created
    page = response.content.decode()
    assert "Component checkout" in page and "is not imported" in page
    assert Service.objects.count() == 9 and Team.objects.filter(slug="engineering").exists()

    again = client.post(reverse("interop:import"), {"files": example_uploads()})
    assert again.context["report"].created == [] and Service.objects.count() == 9


def test_import_needs_staff(client, personas):
    client.force_login(personas["alice"])
    assert client.get(reverse("interop:import")).status_code == 403
    assert client.post(reverse("interop:import"), {"files": example_uploads()}).status_code == 403
    assert not Service.objects.exists()


def test_upload_without_files_is_an_error_next_to_the_field(client, personas):
    client.force_login(personas["staff"])
    response = client.post(reverse("interop:import"), {})
    assert response.status_code == 400 and "files" in response.context["form"].errors


def test_export_downloads_yaml_for_any_signed_in_user(client, personas):
    client.force_login(personas["charlie"])
    response = client.get(reverse("interop:export"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/yaml")
    assert "attachment" in response["Content-Disposition"]
    kinds = [d.kind for d in backstage.load([("x", response.content)]).documents]
    assert kinds.count("Group") == 2  # payments and search
