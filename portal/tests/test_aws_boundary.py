"""The AWS boundary: one place creates clients, counts calls and sorts errors."""

import subprocess
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from portal import aws

ROOT = Path(__file__).resolve().parents[2]


def client_error(code, status=400, message="m"):
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "Op",
    )


def test_boto3_clients_are_created_in_one_module_only():
    needle = "boto3" + ".client("  # split, so this file does not match itself
    out = subprocess.run(
        ["git", "grep", "--untracked", "-l", needle],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert out == ["portal/aws.py"]


def test_calls_are_counted_per_operation(aws_emulator):
    before = aws.call_counts()
    lam = aws.aws_client("lambda")
    lam.list_functions()
    lam.list_functions()
    counts = aws.call_counts() - before
    assert counts[("lambda", "ListFunctions")] == 2


def test_clients_are_reused(aws_emulator):
    assert aws.aws_client("iam") is aws.aws_client("iam")


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (client_error("ThrottlingException"), True),
        (client_error("TooManyRequestsException", 429), True),
        (client_error("Whatever", 503), True),
        (client_error("ResourceConflictException", 409), True),
        (client_error("ValidationException"), False),
        (client_error("AccessDeniedException", 403), False),
        (
            client_error(
                "InvalidParameterValueException",
                message="The role defined for the function cannot be assumed by Lambda.",
            ),
            True,
        ),
        (EndpointConnectionError(endpoint_url="http://x"), True),
    ],
)
def test_errors_are_sorted_into_transient_and_permanent(exc, transient):
    assert aws.is_transient(exc) is transient


def test_error_message_names_code_and_text():
    assert aws.error_message(client_error("AccessDenied", 403, "nope")) == "AccessDenied: nope"


def test_role_session_name_is_sanitised():
    assert aws._session_name("jane doe/x") == "jane-doe-x"
    assert aws._session_name("") == "slipway"


def test_concurrent_reads_answer_in_order_keep_request_ids_and_raise_the_error(aws_emulator):
    """Independent reads made at once: answers in call order, every request id collected for
    the step's log line, and an error raised only after the other calls finished."""
    lam, iam = aws.aws_client("lambda"), aws.aws_client("iam")
    before = aws.call_counts()
    with aws.collect_request_ids() as ids:
        functions, roles = aws.concurrently(lam.list_functions, iam.list_roles)
    assert "Functions" in functions and "Roles" in roles
    assert len(ids) == 2
    finished = []
    with pytest.raises(ClientError) as raised:
        aws.concurrently(
            lambda: lam.get_function(FunctionName="no-such-function"),
            lambda: finished.append(iam.list_roles()),
        )
    assert aws.is_not_found(raised.value)
    assert len(finished) == 1
    counts = aws.call_counts() - before
    assert counts[("lambda", "GetFunction")] == 1 and counts[("iam", "ListRoles")] == 2
