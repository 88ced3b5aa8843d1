"""The dependency rules of ARCHITECTURE.md, checked on the source."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

BACKEND = Path(__file__).parent.parent / "backend"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules(package: str) -> list[Path]:
    return sorted((BACKEND / package).rglob("*.py"))


def _violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in _modules(package):
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(BACKEND)} imports {name}")
    return found


def test_drafting_core_imports_no_framework_database_or_provider_sdk():
    assert _violations("drafting", ("flask", "werkzeug", "sqlalchemy", "alembic", "openai",
                                    "requests", "msal", "redis", "backend.web",
                                    "backend.services", "backend.storage", "backend.providers",
                                    "backend.governance")) == []


def test_governance_does_not_reach_outwards():
    assert _violations("governance", ("sqlalchemy", "openai", "requests", "backend.web",
                                      "backend.services", "backend.storage")) == []


def test_web_goes_through_services_not_storage_or_providers():
    assert _violations("web", ("sqlalchemy", "backend.storage", "backend.providers",
                               "openai")) == []


@pytest.mark.parametrize("path", sorted(BACKEND.rglob("*.py")), ids=lambda p: str(p.relative_to(BACKEND)))
def test_only_config_reads_the_environment(path: Path):
    if path.name == "config.py":
        return
    source = path.read_text()
    assert "os.environ" not in source and "getenv(" not in source, path


@pytest.mark.parametrize("path", sorted(BACKEND.rglob("*.py")), ids=lambda p: str(p.relative_to(BACKEND)))
def test_modules_stay_small(path: Path):
    assert len(path.read_text().splitlines()) <= 450, f"{path} is too long; split it by domain"
