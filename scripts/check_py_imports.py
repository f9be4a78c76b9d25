"""No import circles among the factory's modules (training/factory/), counting the imports made
inside functions too: a lazy import hides a circle from Python, not from a reader."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

root = Path(__file__).resolve().parents[1] / "training" / "factory"
modules = {p.stem: p for p in root.glob("*.py")}
graph: dict[str, set[str]] = {}
for name, path in modules.items():
    deps = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                deps.update([node.module.split(".")[0]] if node.module else [a.name for a in node.names])
            elif node.module and node.module.startswith("factory."):
                deps.add(node.module.split(".")[1])
    graph[name] = {d for d in deps if d in modules and d != name}

circles: set[tuple[str, ...]] = set()


def walk(path: list[str]) -> None:
    for dep in sorted(graph[path[-1]]):
        if dep in path:
            cycle = path[path.index(dep):]
            i = cycle.index(min(cycle))
            circles.add(tuple(cycle[i:] + cycle[:i]))
        elif len(path) < len(graph):
            walk(path + [dep])


for start in sorted(graph):
    walk([start])
for c in sorted(circles):
    print("import circle: factory." + " -> factory.".join(c + (c[0],)))
if circles:
    sys.exit(1)
print(f"imports: {len(graph)} factory modules, no circles")
