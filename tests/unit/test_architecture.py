"""The conventions of ARCHITECTURE.md that a machine can check: import rules, one error
convention with every message from the tables, settings read when a process starts."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from services.common import problems
from services.common.problems import MESSAGES, TEXTS, DomainError, problem, render, text

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "services"


def _python_files() -> list[Path]:
    return sorted(p for p in SERVICES.rglob("*.py") if ".venv" not in p.parts)


def test_import_contracts_are_kept() -> None:
    """Services do not import each other; domain modules import no infrastructure."""
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_gateway_loads_no_code_of_other_services() -> None:
    """The gateway verifies tokens and applies the rules from services.common alone."""
    probe = (
        "import sys, services.gateway.service;"
        "print([m for m in sys.modules if m.startswith(('services.identity', 'services.submissions',"
        " 'services.catalog', 'argon2', 'eventsourcing', 'psycopg'))])"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_gateway_route_mixins_share_no_method_names() -> None:
    """The gateway is one class made of route mixins: a helper of the same name in two of them
    silently replaces the other's (a rules check once decided who may issue hand-over clients)."""
    from services.gateway.service import GatewayService

    seen: dict[str, str] = {}
    clashes = []
    for mixin in GatewayService.__mro__[1:]:
        if not mixin.__module__.startswith("services.gateway."):
            continue
        for name, value in vars(mixin).items():
            if callable(value) and not (name.startswith("__") and name.endswith("__")):
                if name in seen:
                    clashes.append(f"{name}: {seen[name]} and {mixin.__name__}")
                seen.setdefault(name, mixin.__name__)
    assert not clashes


def _calls_with_literal_pairs(tree: ast.AST) -> list[int]:
    """Lines where a DomainError-like call passes a literal "deutsch / english" detail."""
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        for keyword in node.keywords:
            value = keyword.value
            parts = [value] if isinstance(value, ast.Constant) else (
                [v for v in value.values if isinstance(v, ast.Constant)] if isinstance(value, ast.JoinedStr) else []
            )
            if keyword.arg == "detail" and any(isinstance(p.value, str) and " / " in p.value for p in parts):
                lines.append(node.lineno)
    return lines


def test_no_hand_written_german_english_pairs() -> None:
    """Every human-readable message comes from the tables in services.common.problems."""
    offenders = {
        str(path.relative_to(ROOT)): lines
        for path in _python_files()
        if (lines := _calls_with_literal_pairs(ast.parse(path.read_text(encoding="utf-8"))))
    }
    assert offenders == {}


def test_environment_is_read_only_by_the_config_module_and_never_at_import() -> None:
    """Settings come from services.common.config, read when a process starts (tests and the
    launcher set the environment first): no other module touches os.environ, and the
    config module itself reads it only inside functions."""
    readers = sorted(
        str(path.relative_to(ROOT))
        for path in _python_files()
        if "os.environ" in path.read_text(encoding="utf-8") or "getenv" in path.read_text(encoding="utf-8")
    )
    assert readers == ["services/common/config.py"]
    module_level = [
        statement.lineno
        for statement in ast.parse((SERVICES / "common" / "config.py").read_text(encoding="utf-8")).body
        if not isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and "os.environ" in ast.unparse(statement)
    ]
    assert module_level == []


def test_every_text_renders_in_both_languages() -> None:
    for key, (de, en) in TEXTS.items():
        assert de and en, key
        assert render(text(key), "de") and render(text(key), "en")
    with pytest.raises(KeyError):
        text("no_such_text")


def test_text_params_cross_rpc_and_render_per_language() -> None:
    error = DomainError("invalid_parameter", name="reason", detail=text("text_max", limit=500))
    remote = DomainError.from_json(str(error))
    assert remote is not None and remote.code == "invalid_parameter"
    assert problem(remote.code, "de", **remote.params)["detail"].endswith("Text bis 500 Zeichen")
    assert problem(remote.code, "en", **remote.params)["detail"].endswith("text up to 500 characters")


def test_remote_errors_are_recognised_by_the_base_not_by_a_list() -> None:
    class SomeNewError(DomainError):
        code = "forbidden"

    remote = DomainError.from_json(str(SomeNewError()))
    assert remote is not None and remote.code == "forbidden" and remote.status == 403
    assert DomainError.from_json(json.dumps({"code": "forbidden"})) is None  # no marker: not ours
    assert DomainError.from_json("Traceback …") is None


def test_every_error_code_raised_has_a_message() -> None:
    """Subclasses of DomainError name codes of the message table."""
    codes = set()
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if (
                        isinstance(item, ast.Assign)
                        and any(isinstance(t, ast.Name) and t.id == "code" for t in item.targets)
                        and isinstance(item.value, ast.Constant)
                    ):
                        codes.add(item.value.value)
    assert codes, "no error classes found"
    assert codes - set(MESSAGES) == set()
    assert problems.MARKER == "domain_error"


def test_architecture_map_quotes_the_checked_import_rules() -> None:
    """ARCHITECTURE.md shows the import rules exactly as import-linter checks them."""
    rules = (ROOT / ".importlinter").read_text(encoding="utf-8")
    contracts = rules[rules.index("[importlinter:contract:"):].strip()
    assert contracts in (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
