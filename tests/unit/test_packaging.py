"""The production package holds the app only; the development tools stay in the source tree."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[2]
DEV_TOOLS = ("emulator", "amoemu", "fakedrive", "faketelegram", "bench", "devstack")
# the app: every other top-level package of the repository
APP = tuple(sorted(p.parent.name for p in ROOT.glob("*/__init__.py")
                   if p.parent.name not in (*DEV_TOOLS, "tests")))


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def top_level(packages: list[str]) -> set[str]:
    return {p.split(".")[0] for p in packages}


def test_the_package_list_holds_the_app_and_no_development_tool():
    include = pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    packaged = top_level(find_packages(where=str(ROOT), include=include))
    assert "connector" in APP and packaged == set(APP)
    assert all((ROOT / tool / "__init__.py").exists() for tool in DEV_TOOLS)  # still there


def test_rq_is_pinned_to_the_major_version_the_tests_run_on():
    from importlib.metadata import version

    major = int(version("rq").split(".")[0])
    rq = [d for d in pyproject()["project"]["dependencies"] if d.startswith("rq")]
    assert rq == [f"rq>={major}.0,<{major + 1}"]


def modules_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    """Top-level modules a fresh interpreter has loaded after running code in the repo root,
    where the development tools are importable, so only a real import keeps them out."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, env=env, check=True).stdout
    return top_level(json.loads(out.strip().splitlines()[-1]))


def test_the_development_tools_are_importable_from_the_source_tree():
    assert set(DEV_TOOLS) <= modules_after(
        "import emulator, amoemu, fakedrive, faketelegram, bench, devstack")


def entry_point() -> tuple[str, str]:
    """The module and function of the installed `crm-connector` command."""
    module, func = pyproject()["project"]["scripts"]["crm-connector"].split(":")
    return module, func


def test_the_production_cli_imports_no_development_tool():
    module, _ = entry_point()
    loaded = modules_after(f"import {module}")
    assert "connector" in loaded
    assert not loaded & set(DEV_TOOLS)


def test_no_app_module_imports_a_development_tool_even_lazily():
    for package in APP:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                         [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                for name in names:
                    assert name.split(".")[0] not in DEV_TOOLS, (path, name)


def test_a_worker_run_imports_no_development_tool(redis_url: str, redis):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("B24_", "CONNECTOR_"))},
           "REDIS_URL": redis_url, "CONNECTOR_SECRET_KEY": "test-signing-key",
           "CONNECTOR_ENCRYPTION_KEY": "n6mEsyXFEKsZqQGTdLgTJQjFZpOvzIgJGPjX6hp8Vh0=",
           "LOG_LEVEL": "WARNING"}
    module, func = entry_point()
    loaded = modules_after(f"from {module} import {func}\n{func}(['worker', '--burst'])", env)
    assert {"robots", "rq"} <= loaded  # the worker really loaded the capabilities
    assert not loaded & set(DEV_TOOLS)
