"""bot.truebar's public API is its ``__all__``, as httpx keeps its own: every name there
is defined in the package, the list is sorted without duplicates, each public class or
function of the package's modules is exported or named here as internal, and nothing
outside the package imports the public names from its modules."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

from bot import truebar

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "bot" / "truebar"

# Public classes and functions of the package's modules that are not part of its API (any
# other added to a module must be exported, or named here with the reason).
INTERNAL = {
    # The sans-I/O state machine the client drives, unit-tested by tests/test_protocol.py;
    # ClientMisuse is a bug of the client, seen by callers as a TruebarError.
    "protocol": {
        "ClientMisuse",
        "Configured",
        "Finished",
        "Initialized",
        "ServerWarning",
        "SessionProtocol",
        "State",
        "TextUpdate",
        "error_text",
        "message_type",
    },
    # The accumulator a session's protocol keeps: callers get its TranscriptUpdates.
    "transcript": {"Transcript", "join_after"},
}

MODULES = [m.name for m in pkgutil.iter_modules(truebar.__path__)]
PUBLIC_MODULES = [m for m in MODULES if not m.startswith("_")]  # "_tasks" is private as a whole


def top_level(module: str) -> tuple[set[str], set[str]]:
    """Names a module defines itself (not imports): all of them, and its public classes
    and functions."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    defined: set[str] = set()
    public: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            defined.add(node.name)
            if not node.name.startswith("_"):
                public.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            defined.update(t.id for t in targets if isinstance(t, ast.Name))
    return defined, public


def isort_style(name: str) -> tuple[int, list[int | str]]:
    """Ruff's order for ``__all__`` (RUF022): constants, then classes, then the rest, each
    in natural order."""
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def test_all_is_sorted_without_duplicates() -> None:
    assert len(set(truebar.__all__)) == len(truebar.__all__)
    assert truebar.__all__ == sorted(truebar.__all__, key=isort_style)


def test_every_export_is_defined_in_the_package() -> None:
    for name in truebar.__all__:
        homes = [m for m in MODULES if name in top_level(m)[0]]
        assert len(homes) == 1, f"{name} is defined in {homes or 'no module of bot.truebar'}"
        home = importlib.import_module(f"bot.truebar.{homes[0]}")
        assert getattr(truebar, name) is getattr(home, name)


def test_every_public_class_and_function_is_exported_or_internal() -> None:
    for module in PUBLIC_MODULES:
        public = top_level(module)[1]
        internal = INTERNAL.get(module, set())
        missing = public - internal - set(truebar.__all__)
        assert not missing, f"export {sorted(missing)} or call them INTERNAL"
        assert internal <= public, f"INTERNAL names what {module} does not define"
        assert not internal & set(truebar.__all__), "exported names are not internal"


def imports_from_the_package(path: Path) -> list[tuple[int, str, list[str]]]:
    """Each import of bot.truebar or one of its modules: line, module, names."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "bot.truebar" or node.module.startswith("bot.truebar."):
                found.append((node.lineno, node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [
                (node.lineno, a.name, [])
                for a in node.names
                if a.name == "bot.truebar" or a.name.startswith("bot.truebar.")
            ]
    return found


def test_the_rest_imports_the_api_from_the_package() -> None:
    """The app, the bench and the tests take bot.truebar's names from the package; only
    tests may reach into a module, and only for the internals named above."""
    exported = set(truebar.__all__)
    sources = [
        p
        for folder in ("bot", "bench", "tests")
        for p in (ROOT / folder).rglob("*.py")
        if PACKAGE not in p.parents
    ]
    wrong = []
    for path in sources:
        where = path.relative_to(ROOT)
        for line, module, names in imports_from_the_package(path):
            submodule = module.removeprefix("bot.truebar").removeprefix(".")
            if not submodule:
                wrong += [f"{where}:{line} {n}" for n in names if n not in exported]
            elif not (
                where.parts[0] == "tests" and names and set(names) <= INTERNAL.get(submodule, set())
            ):
                wrong.append(f"{where}:{line} {module} {names}")
    assert not wrong, "import these from bot.truebar (export them if need be):\n" + "\n".join(wrong)
