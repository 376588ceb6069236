"""Every route of the OpenAPI, fuzzed by schemathesis as each kind of caller: no server error,
and every answer (status, content type, body, documented headers) as the contract says.

The fuzzer registers, logs in and out and guesses tokens from one address, which leaves
throttles behind: it gets a platform of its own. ``make test`` runs a fixed seed with a few
examples per operation (``VR_FUZZ_EXAMPLES``, ``VR_FUZZ_SEED``); ``make fuzz`` runs deeper with a
random seed, the boundary ("coverage") phase included (``VR_FUZZ_PHASES``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.accounts import Account, Accounts
from tests.e2e.conftest import LOHNE, VECHTA, own_platform
from tests.support import Platform

ROOT = Path(__file__).resolve().parents[2]
ST = Path(sys.executable).with_name("st")
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"

platform_env, running, accounts = own_platform("module", "vr_fuzz", IDENTITY_ACCESS_TOKEN_TTL="1800")


def callers(accounts: Accounts) -> dict[str, Account | None]:
    return {
        "anonymous": None,
        "citizen": accounts.citizen(),
        "clerk": accounts.staff([(VECHTA, "clerk", ["*"]), (LOHNE, "team_lead", ["*"])]),
        "tenant_admin": accounts.staff([(VECHTA, "tenant_admin", ["*"])], kind="tenant_admin"),
        "operator": accounts.staff([], kind="operator"),
    }


@pytest.fixture(scope="module")
def logged_in(accounts: Accounts) -> dict[str, Account | None]:
    """Every caller logged in before the fuzzer's guesses throttle logins from this address."""
    return callers(accounts)


@pytest.mark.parametrize("caller", ["anonymous", "citizen", "clerk", "tenant_admin", "operator"])
def test_no_server_error_and_every_answer_as_documented(caller: str, running: Platform,
                                                        logged_in: dict[str, Account | None], tmp_path: Path) -> None:
    account = logged_in[caller]
    command = [
        str(ST), "run", str(ROOT / "contracts" / "openapi.yaml"), "--url", running.base_url,
        "--checks", CHECKS, "--max-examples", os.environ.get("VR_FUZZ_EXAMPLES", "2"),
        "--phases", os.environ.get("VR_FUZZ_PHASES", "examples,fuzzing"),
        "--request-timeout", "30", "--no-color", "--report", "junit", "--report-dir", str(tmp_path),
    ]
    if seed := os.environ.get("VR_FUZZ_SEED", "20261202"):
        command += ["--seed", seed]
    if account is not None:
        command += ["--header", f"Authorization: Bearer {account.token}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    print(result.stdout[-3000:])  # the summary (generated cases, seed) in the test log
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
