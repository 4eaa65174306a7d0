"""The package's import direction, as the README's map states it: formats and shared modules at the bottom,
encoders above them, the stages above those, and cli / recipe / demo on top; no cycles; no module over ~400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mtqa"
BENCH = PACKAGE.parent / "bench"
TOP = {"cli", "recipe", "demo", "__main__", "studies", "train_eval", "api"}
STAGES = {"translate", "batches", "train", "evaluate"}
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every mtqa module ``path`` imports, function-local imports included."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("mtqa"):
                found.add(target)
                found.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("mtqa"))
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: {target for target in imports_of(path) if target in modules and target != name} for name, path in modules.items()}


def layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:
        return 0
    head = parts[1]
    if head in TOP:
        return 4
    if head in STAGES:
        return 3
    if head == "encoders":
        return 2
    return 1  # formats and the small shared modules


def test_imports_run_downwards():
    upward = [
        f"{module} -> {target}"
        for module, targets in graph().items()
        for target in targets
        if layer(target) > layer(module) and layer(module) != 0
    ]
    assert not upward, upward


def test_stages_do_not_import_each_others_jobs():
    wrong = [
        f"{module} -> {target}"
        for module, targets in graph().items()
        for target in targets
        if layer(module) == 3 and target.endswith(".job") and target.split(".")[1] != module.split(".")[1]
    ]
    assert not wrong, wrong


def test_no_import_cycles():
    edges = graph()
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, path: list[str]) -> bool:
        state[node] = 1
        for target in edges.get(node, ()):
            if target.startswith(node + "."):
                continue  # a package importing its own submodule
            if state.get(target) == 1:
                cycle.extend(path + [node, target])
                return True
            if state.get(target) is None and visit(target, path + [node]):
                return True
        state[node] = 2
        return False

    for node in edges:
        if state.get(node) is None and visit(node, []):
            break
    assert not cycle, " -> ".join(cycle)


def test_no_module_in_mtqa_or_bench_is_over_400_lines():
    modules = [*PACKAGE.rglob("*.py"), *BENCH.rglob("*.py")]
    long = {
        str(path.relative_to(PACKAGE.parent)): n
        for path in modules
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, long


def test_bench_is_a_package_its_modules_import_by_name():
    """Every folder of bench/ is a package and no benchmark edits sys.path: `python -m bench.X` finds them all."""
    folders = {path.parent for path in BENCH.rglob("*.py") if "results" not in path.parts}
    assert all((folder / "__init__.py").is_file() for folder in folders), folders
    editing = [str(path.relative_to(BENCH)) for path in BENCH.rglob("*.py") if "sys.path" in path.read_text(encoding="utf-8")]
    assert not editing, editing


def test_translates_model_side_and_its_filters_are_separate_sub_packages():
    """The model side (tokenise, translate, convert, Ray) and the quality filters meet only in translate's job and its helpers."""
    sides = {"mtqa.translate.model": "mtqa.translate.filters", "mtqa.translate.filters": "mtqa.translate.model"}
    crossing = [
        f"{module} -> {target}"
        for module, targets in graph().items()
        for side, other in sides.items()
        if module.startswith(side)
        for target in targets
        if target.startswith(other)
    ]
    assert not crossing, crossing
    assert {"ct2_model", "families", "tokenizer", "translator", "ray_executor"} <= {
        p.stem for p in (PACKAGE / "translate" / "model").glob("*.py")
    }
    assert {"chain", "langid", "scripts", "similarity"} <= {p.stem for p in (PACKAGE / "translate" / "filters").glob("*.py")}
