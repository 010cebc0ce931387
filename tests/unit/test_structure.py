"""Rules of the layout that a refactor must not break."""

import ast
from pathlib import Path

from tests.bodies import names
from tests.capabilities import EVENTS, ROBOTS

ROOT = Path(__file__).resolve().parents[2]
FEATURES = ("robots", "handlers", "placements", "install", "admin", "wiring")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def files(folder: str) -> list[Path]:
    return list((ROOT / folder).rglob("*.py"))


def test_the_core_imports_no_feature():
    """connector/ knows platforms, never a capability, page or installer by name."""
    for path in files("connector"):
        for name in imports_of(path):
            assert name.split(".")[0] not in FEATURES, (path, name)


def test_capabilities_use_the_crm_port_not_an_adapter():
    for path in files("robots"):
        for name in imports_of(path):
            assert not name.startswith(("connector.bitrix", "connector.amocrm")), (path, name)


def test_a_capability_does_not_reach_into_another():
    """Shared needs go through a published service (Capability.provides), not imports."""
    packages = {p.name for p in (ROOT / "robots").iterdir() if (p / "__init__.py").exists()}
    for pkg in packages:
        for path in files(f"robots/{pkg}"):
            for name in imports_of(path):
                parts = name.split(".")
                if parts[0] == "robots" and len(parts) > 1 and parts[1] in packages:
                    assert parts[1] == pkg, (path, name)


def test_features_do_not_touch_flask_or_rq():
    for folder in ("robots",):
        for path in files(folder):
            for name in imports_of(path):
                assert name.split(".")[0] not in ("flask", "rq", "flask_babel"), (path, name)


def test_capabilities_declare_panels_and_sections_not_pages():
    """A capability's admin panels and card sections are data + a template: the pages
    (admin/, placements/, install/) read them, never the other way round."""
    for path in files("robots"):
        for name in imports_of(path):
            assert name.split(".")[0] not in ("admin", "placements", "install", "wiring"), (
                path, name)


def test_only_queue_and_jobs_and_cli_touch_rq():
    """RQ stays inside the job layer: the queues, the entry points, the worker command, and
    the worker's own parts (how it takes a job, how its locks name the job they run in)."""
    allowed = {"connector/queue.py", "connector/jobs.py", "connector/cli.py",
               "connector/claims.py", "connector/liveness.py"}
    for folder in ("connector", "robots", "install", "placements", "admin", "wiring"):
        for path in files(folder):
            rel = str(path.relative_to(ROOT))
            if any(n.split(".")[0] == "rq" for n in imports_of(path)):
                assert rel in allowed, rel


def test_emulator_knows_nothing_of_the_app():
    for path in files("emulator") + files("amoemu"):
        for name in imports_of(path):
            assert name.split(".")[0] not in ("connector", "robots", "install", "placements",
                                              "admin", "wiring"), (path, name)


def test_every_registry_entry_has_a_raw_body_fixture():
    have = {n.split("__")[0] for n in names()} | {
        n.split("__")[1] for n in names() if n.startswith("ROBOT__")}
    for event in EVENTS:
        assert event in have, f"tests/fixtures/{event}__basic.txt missing"
    for spec in ROBOTS:
        assert spec.code in have, f"tests/fixtures/ROBOT__{spec.code}__basic.txt missing"
