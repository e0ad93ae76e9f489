"""Checking an uploaded Lambda deployment package (a zip) before anything is stored.

Only the zip's central directory is read (the archive is never unpacked here): a package AWS
would refuse, or one built to exhaust whoever unpacks it, is refused at the form with a reason.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePosixPath

from django.conf import settings

from portal.untrusted import PARSE_ERRORS

# Lambda's own limit: 250 MB unzipped for the function and its layers together.
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024


def _unsafe_name(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or (len(name) > 1 and name[1] == ":")


def zip_problem(content: bytes) -> str:
    """Why `content` is not an acceptable Lambda zip ("" when it is)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, *PARSE_ERRORS):
        return "This file is not a zip archive."
    if len(entries) > settings.LAMBDA_ZIP_MAX_ENTRIES:
        return (
            f"The zip holds {len(entries):,} files; Slipway accepts at most "
            f"{settings.LAMBDA_ZIP_MAX_ENTRIES:,}."
        )
    unzipped = sum(entry.file_size for entry in entries)
    if unzipped > MAX_UNZIPPED_BYTES:
        return (
            f"Unzipped, this package is {unzipped / 2**20:,.0f} MB; AWS Lambda accepts at most "
            "250 MB."
        )
    compressed = sum(entry.compress_size for entry in entries)
    ratio = unzipped / max(compressed, 1)
    if unzipped > 1024 * 1024 and ratio > settings.LAMBDA_ZIP_MAX_RATIO:
        return (
            f"The zip expands {ratio:,.0f} times; Slipway refuses packages that expand more "
            f"than {settings.LAMBDA_ZIP_MAX_RATIO} times (a zip bomb)."
        )
    for entry in entries:
        if _unsafe_name(entry.filename):
            return f"The zip holds a file outside its own folder: {entry.filename[:100]!r}."
    return ""
