"""The rooms of armada/ and their layers, read from the code's own imports: a module imports
from its own layer or a layer below, never from a layer above (the WebSocket transport does
not import the HTTP handlers, nor the application keys the transport), and no rooms import
each other in a circle."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "armada"

# From the ground up; a room is a module or a package, named as it is imported.
LAYERS: list[set[str]] = [
    {"armada.const", "armada.background", "armada.database_lock", "armada.logging_setup",
     "armada.durations", "armada.changes"},
    {"armada.config", "armada.alerts_settings", "armada.datetimes", "armada.errors",
     "armada.private_api", "armada.remote"},
    {"armada.jsonutil", "armada.store", "armada.alerts"},
    {"armada.stream", "armada.metrics", "armada.connection_limit", "armada.keys"},
    {"armada.ws", "armada.serving"},
    {"armada.http", "armada.search_index", "armada.retention", "armada.lost_jobs",
     "armada.instances", "armada.alerts.sender"},
    {"armada.app"},
    {"armada.cli"},
    {"armada.__main__"},
]
LAYER_OF = {room: number for number, rooms in enumerate(LAYERS) for room in rooms}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def room_of(module: str) -> str | None:
    """The room `module` is in: the longest room name it starts with."""
    rooms = [room for room in LAYER_OF if module == room or module.startswith(room + ".")]
    return max(rooms, key=len) if rooms else None


def imported(tree: ast.Module) -> set[str]:
    """Every armada module the file imports (`from armada import const` imports armada.const)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names.update(f"{node.module}.{alias.name}" if node.module == "armada"
                         else node.module for alias in node.names)
    return {name for name in names if name.startswith("armada.")}


def modules() -> dict[str, set[str]]:
    return {module_name(path): imported(ast.parse(path.read_text(encoding="utf-8")))
            for path in sorted(PACKAGE.rglob("*.py"))}


def test_every_module_of_armada_is_in_a_room_of_a_layer() -> None:
    assert [module for module in modules() if module != "armada" and room_of(module) is None] \
        == []


def arrows() -> dict[str, set[str]]:
    """Room -> the other rooms its modules import."""
    found: dict[str, set[str]] = {room: set() for room in LAYER_OF}
    for module, names in modules().items():
        room = room_of(module)
        if room is not None:
            found[room] |= {target for name in names
                            if (target := room_of(name)) not in (None, room)}
    return found


def test_a_module_imports_from_its_own_layer_or_a_layer_below() -> None:
    assert sorted(f"{room} imports {target}" for room, targets in arrows().items()
                  for target in targets if LAYER_OF[target] > LAYER_OF[room]) == []


def test_no_rooms_import_each_other_in_a_circle() -> None:
    graph = arrows()

    def reaches(start: str, room: str, seen: set[str]) -> bool:
        for target in graph[room] - seen:
            seen.add(target)
            if target == start or reaches(start, target, seen):
                return True
        return False

    assert [room for room in graph if reaches(room, room, set())] == []
