"""Every DVC stage lists, as deps, the project code it runs: an edit to that code re-runs the stage.

A stage's code is its `python -m stages.X` module and every `sgm`/`stages` module it imports,
directly or through another such module (imports inside functions count). Left out on purpose:
the params schema and the stage plumbing (paths, atomic writes, progress bars), imported by every
stage; their effect on outputs reaches DVC through params.yaml.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PLUMBING = {"stages.config", "stages.common", "sgm.progress"}
STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def module_file(module: str) -> Path:
    return REPO / (module.replace(".", "/") + ".py")


def imports_in(source: str) -> set[str]:
    """Every module name `source` imports, at the top or inside functions, with `from m import n` also giving m.n."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def imported_modules(module: str) -> set[str]:
    """The project modules `module`'s source imports anywhere in it."""
    found = imports_in(module_file(module).read_text())
    return {name for name in found if name.split(".")[0] in ("sgm", "stages") and module_file(name).is_file()}


def code_of(module: str) -> set[str]:
    """`module` and the project modules it reaches through imports, not descending into the plumbing."""
    seen, todo = set(), [module]
    while todo:
        current = todo.pop()
        if current not in seen and current not in PLUMBING:
            seen.add(current)
            todo.extend(imported_modules(current))
    return seen


def stage_body(name: str) -> dict:
    return STAGES[name].get("do", STAGES[name])


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_lists_every_module_it_runs(name):
    body = stage_body(name)
    module = body["cmd"].split()[2]
    needed = {str(module_file(m).relative_to(REPO)) for m in code_of(module)}
    missing = sorted(needed - set(body["deps"]))
    assert not missing, f"dvc.yaml stage {name!r} runs code it does not list as deps: {missing}"


def test_the_import_walk_follows_imports_inside_functions_and_through_modules():
    source = "import torch\nfrom sgm import fastpath\n\ndef f():\n    from sgm.nets import build_net\n    import sgm.sde as sde\n"
    assert imports_in(source) == {"torch", "sgm", "sgm.fastpath", "sgm.nets", "sgm.nets.build_net", "sgm.sde"}
    sample = code_of("stages.sample")
    assert {"stages.sample", "sgm.sampling", "sgm.train", "sgm.nets"} <= sample  # sgm.train (load_for_inference) -> the nets
    assert not sample & PLUMBING


@pytest.mark.parametrize("name", sorted(STAGES))
def test_listed_code_deps_exist(name):
    listed = [dep for dep in stage_body(name)["deps"] if dep.endswith(".py")]
    assert [dep for dep in listed if not (REPO / dep).is_file()] == []
