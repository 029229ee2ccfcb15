"""The house's import rules, read from the source with `ast` (no module is imported).

- no import circles among the package's modules (counting every import, lazy ones too,
  except those under `if TYPE_CHECKING:`);
- the loader (`tap_equipme/warehouse/`) imports none of the tap's modules, nor the pipeline,
  nor `requests`;
- the tap's modules (`tap_equipme/*.py`, `http/`, `listing/`) import neither `duckdb`,
  `pyarrow` nor the loader or the pipeline;
- the sandbox imports nothing of the package but itself and `schemas` (the spec);
- `dags/` imports only the pipeline from the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "tap_equipme"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path) -> set[str]:
    """Every module a file imports (absolute names), outside `if TYPE_CHECKING:` blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    inside = path.resolve().is_relative_to(ROOT)
    name = _module_name(path) if inside else path.stem
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # `from pkg import module` imports the submodule when there is one.
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _graph() -> dict[str, set[str]]:
    files = [*PACKAGE.rglob("*.py"), *(ROOT / "dags").glob("*.py")]
    modules = {_module_name(f): f for f in files}
    return {
        name: {m for m in _imports(path) if m in modules and m != name}
        for name, path in modules.items()
    }


def _third_party(path: Path) -> set[str]:
    return {m.split(".")[0] for m in _imports(path)}


def _room_files(*parts: str) -> list[Path]:
    return sorted((PACKAGE.joinpath(*parts)).glob("*.py"))


TAP_FILES = [
    *sorted(PACKAGE.glob("*.py")),
    *_room_files("http"),
    *_room_files("listing"),
]


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    circles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            # A package's `__init__` importing its own modules is not a circle of rooms.
            if node.startswith(nxt + ".") or nxt.startswith(node + "."):
                continue
            if state.get(nxt) == 1:
                circles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node)
    return circles


def test_there_are_no_import_circles():
    assert _circles(_graph()) == []


def test_the_circle_finder_finds_a_circle():
    graph = {"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}, "p": {"p.a"}}
    assert _circles(graph) == [["p.a", "p.b", "p.c", "p.a"]]


def test_the_loader_imports_no_tap_module_no_pipeline_and_no_requests():
    offenders = {}
    for path in sorted((PACKAGE / "warehouse").glob("*.py")):
        bad = {
            m
            for m in _imports(path)
            if m.split(".")[0] == "requests"
            or (m.startswith("tap_equipme.") and not m.startswith("tap_equipme.warehouse"))
        }
        if bad:
            offenders[path.name] = sorted(bad)
    assert offenders == {}


def test_the_tap_imports_no_duckdb_no_arrow_no_loader_no_pipeline():
    assert TAP_FILES, "the tap's modules are where this test looks"
    offenders = {}
    for path in TAP_FILES:
        bad = {
            m
            for m in _imports(path)
            if m.split(".")[0] in {"duckdb", "pyarrow"}
            or m.startswith(
                ("tap_equipme.warehouse", "tap_equipme.pipeline", "tap_equipme.sandbox")
            )
        }
        if bad:
            offenders[str(path.relative_to(PACKAGE))] = sorted(bad)
    assert offenders == {}


def test_the_sandbox_imports_only_itself_and_the_spec():
    offenders = {}
    for path in sorted((PACKAGE / "sandbox").glob("*.py")):
        bad = {
            m
            for m in _imports(path)
            if m.startswith("tap_equipme.")
            and not m.startswith(("tap_equipme.sandbox", "tap_equipme.schemas"))
        }
        if bad:
            offenders[path.name] = sorted(bad)
    assert offenders == {}


def test_the_dags_call_only_the_pipeline_and_the_connection_type():
    # tap_equipme.airflow is the `equipme` connection type: the DAG reads its Connection
    # through the same mapping the provider's form declares.
    offenders = {}
    for path in sorted((ROOT / "dags").glob("*.py")):
        bad = {
            m
            for m in _imports(path)
            if m.startswith("tap_equipme")
            and not m.startswith(("tap_equipme.pipeline", "tap_equipme.airflow"))
        }
        if bad:
            offenders[path.name] = sorted(bad)
    assert offenders == {}


def test_the_rules_see_a_forbidden_import(tmp_path):
    # The parser must see lazy imports (inside functions) and relative ones.
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import typing\nif typing.TYPE_CHECKING:\n    import pyarrow\n"
        "def f():\n    import requests\n    from duckdb import connect\n"
    )
    assert _third_party(sample) == {"typing", "requests", "duckdb"}
    # and a relative import inside the package resolves to the absolute name
    assert "tap_equipme.warehouse.load_errors" in _imports(PACKAGE / "warehouse" / "state.py")


def test_what_the_pipeline_tells_the_loader_matches_the_taps_streams():
    # The pipeline names tap-equipme's streams for the loader without importing the tap's
    # classes at run time; this keeps the two lists the same.
    from tap_equipme.client import RUN_STATS_KEY
    from tap_equipme.metadata_streams import (
        CustomerMetadataReadsStream,
        CustomerMetadataStream,
    )
    from tap_equipme.pipeline.loader_settings import BOOKMARK_STREAM, CHILD_SETS
    from tap_equipme.pipeline.loader_settings import RUN_STATS_KEY as TOLD_RUN_STATS_KEY
    from tap_equipme.streams import CustomersStream

    assert TOLD_RUN_STATS_KEY == RUN_STATS_KEY
    assert CustomersStream.name == BOOKMARK_STREAM
    assert [
        {
            "stream": CustomerMetadataStream.name,
            "key": "customer_id",
            "reads_stream": CustomerMetadataReadsStream.name,
            "parent_stream": CustomersStream.name,
            "parent_key": "id",
        }
    ] == CHILD_SETS
    assert "customer_id" in CustomerMetadataStream.primary_keys
    assert CustomerMetadataReadsStream.primary_keys == ["customer_id"]
