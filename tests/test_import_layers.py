"""The import graph stays layered: no cycles between the add-on's subpackages or between the
backend's modules, the add-on never imports torch or the backend, the backend never bpy, and
the files both sides share import only the standard library and numpy."""

import ast
from collections.abc import Iterator
from pathlib import Path

import build

REPO = Path(__file__).resolve().parents[1]
ADDON = REPO / "vggt4d_blender"
BACKEND = REPO / "backend" / "vggt4d"


def _imports(path: Path, package: str) -> Iterator[str]:
    """Absolute names of everything ``path`` imports, at any depth (lazy imports included)."""
    parts = package.split(".")
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = parts[: len(parts) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


def _module_name(path: Path, root: Path, top: str) -> tuple[str, str]:
    relative = path.relative_to(root).with_suffix("")
    parts = [top, *relative.parts]
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), ".".join(parts[:-1])
    return ".".join(parts), ".".join(parts[:-1])


def _graph(root: Path, top: str, unit: int | None) -> dict[str, set[str]]:
    """Edges between units: modules, or their first ``unit`` components below ``top``."""

    def shorten(name: str) -> str:
        return name if unit is None else ".".join(name.split(".")[: unit + 1])

    edges: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        name, package = _module_name(path, root, top)
        if name == top:
            continue  # the root only registers / re-exports
        for imported in _imports(path, package):
            target = _existing_module(imported, root.parent)
            if target and target != top and shorten(target) != shorten(name):
                edges.setdefault(shorten(name), set()).add(shorten(target))
    return edges


def _existing_module(name: str, base: Path) -> str | None:
    """The longest prefix of ``name`` that is a module or package under ``base``."""
    parts = name.split(".")
    for count in range(len(parts), 0, -1):
        path = base.joinpath(*parts[:count])
        if path.with_suffix(".py").is_file() or (path / "__init__.py").is_file():
            return ".".join(parts[:count])
    return None


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_addon_subpackages_do_not_import_each_other_in_a_cycle():
    assert _cycle(_graph(ADDON, "vggt4d_blender", unit=1)) is None


def test_backend_modules_do_not_import_each_other_in_a_cycle():
    assert _cycle(_graph(BACKEND, "vggt4d", unit=None)) is None


def test_each_side_keeps_to_its_own_dependencies():
    for path in ADDON.rglob("*.py"):
        imported = set(_imports(path, "vggt4d_blender"))
        assert not {name for name in imported if name.split(".")[0] in ("torch", "vggt4d")}, path
    for path in BACKEND.rglob("*.py"):
        assert not {name for name in _imports(path, "vggt4d") if name.startswith("bpy")}, path
    for name, source in build.SHARED_FILES.items():
        if name.endswith(".py"):
            path = REPO / "backend" / source
            top = {module.split(".")[0] for module in _imports(path, "shared")}
            assert top <= {"__future__", "numpy", *_STDLIB}, (name, top)


_STDLIB = {
    "collections", "contextlib", "dataclasses", "itertools", "json", "math", "os", "pathlib",
    "re", "struct", "sys", "typing", "zipfile", "zlib",
}  # fmt: skip
