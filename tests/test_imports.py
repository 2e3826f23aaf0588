"""The import graph of scaling/ has no cycle (docs/architecture.md).

The graph is read with `ast`, not by importing: every `import` and `from ...
import` of a scaling module, at the top of a file and inside functions alike
(an import inside a function still needs its module to import cleanly when it
runs). Importing `scaling.data.errors` from outside scaling/data/ also runs
scaling/data/__init__.py first, so it counts as importing that too.
"""

from __future__ import annotations

import ast
import collections
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "scaling"

# Cycles kept on purpose, each as the sorted modules of its strongly connected
# component. Keep this empty: a new cycle means a lower layer imports a higher
# one; move the shared code down instead.
ALLOWED_CYCLES = [
]


def _module_name(path: pathlib.Path) -> str:
  parts = path.relative_to(ROOT).with_suffix("").parts
  return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, pathlib.Path]:
  return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imported(node, module: str, is_package: bool, modules) -> list[str]:
  """The scaling modules one import statement names (the module a name is
  imported from when the name is not a module itself)."""
  if isinstance(node, ast.Import):
    names = [alias.name for alias in node.names]
  else:
    base = node.module or ""
    if node.level:
      parts = module.split(".")[:len(module.split(".")) - node.level + is_package]
      base = ".".join(parts + ([node.module] if node.module else []))
    names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
             for a in node.names]
  out = []
  for name in names:
    while name and name not in modules:
      name = name.rpartition(".")[0]
    if name.startswith("scaling") and name != module:
      out.append(name)
      out.extend(_packages_run_first(name, module))
  return out


def _packages_run_first(name: str, module: str) -> list[str]:
  """The packages whose __init__ importing `name` runs, other than those
  `module` is inside (they are already being imported when it runs)."""
  parts = name.split(".")
  packages = [".".join(parts[:i]) for i in range(2, len(parts))]
  return [p for p in packages if not (module + ".").startswith(p + ".")]


def _imports(tree) -> list[tuple[ast.AST, bool]]:
  """Every import statement of a module, with whether it is inside a function."""
  out = []

  def visit(node, in_function):
    for child in ast.iter_child_nodes(node):
      if isinstance(child, (ast.Import, ast.ImportFrom)):
        out.append((child, in_function))
      visit(child, in_function or isinstance(child, (ast.FunctionDef,
                                                      ast.AsyncFunctionDef)))

  visit(tree, False)
  return out


def import_graph() -> tuple[dict[str, set[str]], dict[str, int]]:
  """({module: scaling modules it imports}, {module: its imports of scaling
  modules inside functions})."""
  modules = _modules()
  graph, in_functions = collections.defaultdict(set), collections.Counter()
  for module, path in modules.items():
    tree = ast.parse(path.read_text(), filename=str(path))
    for node, in_function in _imports(tree):
      names = _imported(node, module, path.name == "__init__.py", modules)
      graph[module].update(names)
      in_functions[module] += bool(in_function and names)
  return graph, in_functions


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
  """The strongly connected components of more than one module (Tarjan)."""
  index, low, stack, on_stack, out = {}, {}, [], set(), []

  def visit(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on_stack.add(v)
    for w in sorted(graph.get(v, ())):
      if w not in index:
        visit(w)
        low[v] = min(low[v], low[w])
      elif w in on_stack:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      component = []
      while not component or component[-1] != v:
        component.append(stack.pop())
        on_stack.discard(component[-1])
      if len(component) > 1:
        out.append(sorted(component))

  for v in sorted(graph):
    if v not in index:
      visit(v)
  return sorted(out)


def test_the_graph_sees_every_kind_of_import():
  graph, in_functions = import_graph()
  assert "scaling.config" in graph["scaling.validation"]  # top-level from-import
  assert "scaling.data.errors" in graph["scaling.data.sources"]
  assert sum(in_functions.values()) > 0


def test_the_cycle_finder_finds_a_cycle():
  graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
  assert cycles(graph) == [["a", "b", "c"]]


def test_scaling_has_no_import_cycle():
  found = cycles(import_graph()[0])
  new = [c for c in found if c not in ALLOWED_CYCLES]
  assert not new, ("import cycles among scaling modules (a lower layer imports a higher "
                   f"one; see docs/architecture.md): {new}")
  gone = [c for c in ALLOWED_CYCLES if c not in found]
  assert not gone, f"these allowed cycles are gone; drop them from ALLOWED_CYCLES: {gone}"


# The dependency order of docs/architecture.md: a module imports only modules
# of its own layer or of earlier ones. The first prefix that matches places it.
LAYERS = [
    ["scaling", "scaling.constants", "scaling.errors", "scaling.figures", "scaling.formulas", "scaling.exitcodes", "scaling.pyfile", "scaling.quiet",
     "scaling.provenance", "scaling.data.errors", "scaling.results.io", "scaling.laws.errors"],
    ["scaling.data"],  # but data.datasets, below
    ["scaling.models", "scaling.accounting", "scaling.sharding", "scaling.gns",
     "scaling.distributed"],
    ["scaling.config", "scaling.config_formats"],
    ["scaling.validation", "scaling.results", "scaling.data.datasets"],
    ["scaling.laws"],
    ["scaling.train", "scaling.tracking"],
    ["scaling.sweep", "scaling.bench", "scaling.aot"],
    ["scaling.findings"],
    ["scaling.cli"],
]


def layer_of(module: str) -> int:
  """The layer of the longest prefix naming `module` or a package above it
  (`scaling` itself names only scaling/__init__.py)."""
  best, length = None, -1
  for i, prefixes in enumerate(LAYERS):
    for prefix in prefixes:
      inside = module.startswith(prefix + ".") and prefix != "scaling"
      if (module == prefix or inside) and len(prefix) > length:
        best, length = i, len(prefix)
  return best


def test_every_module_has_a_layer():
  assert not [m for m in _modules() if layer_of(m) is None]


def test_no_module_imports_a_later_layer():
  graph = import_graph()[0]
  upward = sorted(f"{a} -> {b}" for a, targets in graph.items() for b in targets
                  if layer_of(b) > layer_of(a))
  assert not upward, f"imports against docs/architecture.md's order: {upward}"
