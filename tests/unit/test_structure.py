"""Rules of the layout that a refactor must not break."""

import ast
from pathlib import Path

from handlers import EVENTS
from robots import ROBOTS
from tests.bodies import names

ROOT = Path(__file__).resolve().parents[2]


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def files(folder: str) -> list[Path]:
    return list((ROOT / folder).rglob("*.py"))


def test_platform_code_imports_no_feature():
    for path in files("connector/bitrix"):
        for name in imports_of(path):
            assert not name.startswith(("handlers", "robots", "placements", "install")), path


def test_features_do_not_touch_flask_or_rq():
    for folder in ("handlers", "robots"):
        for path in files(folder):
            for name in imports_of(path):
                assert name.split(".")[0] not in ("flask", "rq"), (path, name)


def test_only_queue_and_jobs_and_cli_touch_rq():
    allowed = {"connector/queue.py", "connector/jobs.py", "connector/cli.py"}
    for folder in ("connector", "handlers", "robots", "install", "placements"):
        for path in files(folder):
            rel = str(path.relative_to(ROOT))
            if any(n.split(".")[0] == "rq" for n in imports_of(path)):
                assert rel in allowed, rel


def test_emulator_knows_nothing_of_the_app():
    for path in files("emulator"):
        for name in imports_of(path):
            assert name.split(".")[0] not in ("connector", "handlers", "robots", "install",
                                              "placements"), (path, name)


def test_every_registry_entry_has_a_raw_body_fixture():
    have = {n.split("__")[0] for n in names()} | {
        n.split("__")[1] for n in names() if n.startswith("ROBOT__")}
    for event in EVENTS:
        assert event in have, f"tests/fixtures/{event}__basic.txt missing"
    for spec in ROBOTS:
        assert spec.code in have, f"tests/fixtures/ROBOT__{spec.code}__basic.txt missing"
