"""The package's import graph: no cycles, imports run one way down the layers, light stages stay light.

Layers, top to bottom (a module may import its own layer or lower ones, never a higher one):
cli -> stages (inference.predict, inference.alerts, evaluation.evaluate/calibration/plots) ->
inference.classifier -> model + inference.export + evaluation.metrics -> features + mock -> io ->
the top-level helpers (errors, logs, config, configfile). Function-level imports count: an import
moved into a function to dodge a cycle is still a cycle here.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = "elasticc_classification"
SRC = Path(__file__).resolve().parents[1] / "src" / PKG

#: Layer of every module, by longest matching dotted prefix (below the package name).
LAYERS: dict[str, int] = {
    "": 0,  # the package __init__
    "errors": 0,
    "logs": 0,
    "config": 0,
    "configfile": 0,
    "io": 1,
    "features": 2,
    "mock": 2,
    "model": 3,
    "inference.export": 3,
    "evaluation.metrics": 3,
    "inference.classifier": 4,
    "inference": 5,  # predict, alerts
    "evaluation": 5,  # evaluate, calibration, plots
    "cli": 6,
}


def _modules() -> dict[str, Path]:
    """Dotted name -> file of every module of the package."""
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


class _Imports(ast.NodeVisitor):
    """Package modules imported anywhere in a module (functions included; ``if TYPE_CHECKING:`` not)."""

    def __init__(self, module: str, is_package: bool, modules: set[str]) -> None:
        self.modules = modules
        self.package = module if is_package else module.rpartition(".")[0]
        self.found: set[str] = set()

    def _add(self, name: str) -> None:
        while name and name not in self.modules:  # an attribute of a module: the module
            name = name.rpartition(".")[0]
        if name:
            self.found.add(name)

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        ):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] == PKG:
                self._add(alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:  # relative: resolve against the importing package
            base = self.package.split(".")
            base = base[: len(base) - (node.level - 1)]
            mod = ".".join(base + ([node.module] if node.module else []))
        else:
            mod = node.module or ""
        if mod.split(".")[0] != PKG:
            return
        for alias in node.names:
            sub = f"{mod}.{alias.name}"
            self._add(sub if sub in self.modules else mod)


def import_graph() -> dict[str, set[str]]:
    """Module -> package modules it imports (module level and inside functions)."""
    mods = _modules()
    graph = {}
    for name, path in mods.items():
        v = _Imports(name, path.name == "__init__.py", set(mods))
        v.visit(ast.parse(path.read_text(), str(path)))
        graph[name] = v.found - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (``[a, b, …, a]``), or None."""
    state: dict[str, int] = {}  # 1 on the DFS stack, 2 done
    stack: list[str] = []

    def dfs(u: str) -> list[str] | None:
        state[u] = 1
        stack.append(u)
        for v in sorted(graph.get(u, ())):
            if state.get(v) == 1:
                return stack[stack.index(v) :] + [v]
            if v not in state and (c := dfs(v)):
                return c
        stack.pop()
        state[u] = 2
        return None

    for u in sorted(graph):
        if u not in state and (c := dfs(u)):
            return c
    return None


def layer(module: str) -> int:
    rel = module[len(PKG) + 1 :] if module != PKG else ""
    keys = [k for k in LAYERS if k == "" or rel == k or rel.startswith(k + ".")]
    return LAYERS[max(keys, key=len)]


def test_graph_sees_function_level_imports():
    g = import_graph()
    assert f"{PKG}.inference.classifier" in g[f"{PKG}.inference.predict"]
    assert f"{PKG}.model.module" in g[f"{PKG}.inference.classifier"]  # imported inside torch_classifier
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


#: Known cycle edges, each with its reason; the test fails once one disappears (then drop it here).
KNOWN_CYCLE_EDGES: dict[tuple[str, str], str] = {}


def test_no_import_cycles():
    graph = import_graph()
    for (a, b), why in KNOWN_CYCLE_EDGES.items():
        assert b in graph[a], f"known cycle edge {a} -> {b} is gone: remove it from KNOWN_CYCLE_EDGES ({why})"
        graph[a] = graph[a] - {b}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_imports_run_down_the_layers():
    bad = [
        f"{m} (layer {layer(m)}) imports {d} (layer {layer(d)})"
        for m, deps in sorted(import_graph().items())
        for d in sorted(deps)
        if layer(d) > layer(m)
    ]
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_light_packages_never_import_torch_users():
    g = import_graph()
    heavy = (f"{PKG}.model", f"{PKG}.inference", f"{PKG}.evaluation")
    for m, deps in g.items():
        if m.startswith((f"{PKG}.io", f"{PKG}.features", f"{PKG}.mock")):
            assert not [d for d in deps if d.startswith(heavy)], m
        if m.startswith(f"{PKG}.model"):
            assert not [d for d in deps if d.startswith(heavy[1:])], m


_LIGHT = """
import sys
import importlib
for name in {modules!r}:
    importlib.import_module(name)
from elasticc_classification.cli import main
for cmd in ("convert", "mock", "tensorize"):
    try:
        main([cmd, "--help"])
    except SystemExit:
        pass
loaded = sorted(m for m in ("torch", "lightning", "onnxruntime", "matplotlib") if m in sys.modules)
print("LOADED", ",".join(loaded))
"""


@pytest.mark.parametrize(
    "modules",
    [
        # the light stages' entry points
        [
            f"{PKG}.io.snana",
            f"{PKG}.io.layout",
            f"{PKG}.features.tensorize",
            f"{PKG}.features.features",
            f"{PKG}.mock",
            f"{PKG}.mock.generator",
        ],  # fmt: skip
        # what Snakemake imports when it parses the rules, and the ONNX-only runtime's modules
        [f"{PKG}.evaluation.evaluate", f"{PKG}.inference.classifier", f"{PKG}.inference.export"],
    ],
    ids=["light-stages", "rules-and-classifier"],
)
def test_light_entry_points_do_not_load_torch(modules):
    run = subprocess.run(
        [sys.executable, "-c", _LIGHT.format(modules=modules)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    line = [x for x in run.stdout.splitlines() if x.startswith("LOADED")][-1]
    assert line == "LOADED ", f"{modules} loaded {line[7:]}"
