"""Every DVC stage lists, as deps, the project code it runs: an edit to that code re-runs the stage.

A stage's code is its `python -m stages.X` module and every `sgm`/`stages` module it imports,
directly or through another such module (imports inside functions count), with the packages whose
`__init__` those imports run. sgm.kinds imports a kind's package by name: a stage that reads a
layout reaches the layouts module of the kind in params.yaml, and one that asks for the kind
(`data_kind`) its kind module. dvc.yaml names those `sgm/${kind}`: the check expands it for
every kind in sgm.kinds.KINDS. A dep that is a folder covers every module in it. Left out on
purpose: the params schema and the stage plumbing (atomic writes, file names, progress bars),
imported by every stage; their effect on outputs reaches DVC through params.yaml.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from sgm.kinds import KINDS

REPO = Path(__file__).resolve().parents[2]
PLUMBING = {"stages.common.outputs", "stages.common.params", "stages.common.paths", "stages.common.columns", "sgm.progress"}
READS_LAYOUT = {"layout_from_dict", "make_layout", "layout_class", "layouts_of", "read_layout", "read_dataset"}
READS_KIND = {"data_kind"}
STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def module_file(module: str) -> Path | None:
    """The source file of project module `module` (a package's __init__.py), or None."""
    path = REPO / module.replace(".", "/")
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


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


def with_packages(module: str) -> set[str]:
    """`module` and the packages above it, whose __init__ importing it runs."""
    parts = module.split(".")
    return {".".join(parts[:n]) for n in range(1, len(parts) + 1)}


def imported_modules(module: str) -> set[str]:
    """The project modules (and their packages) that `module`'s source imports anywhere in it."""
    found = imports_in(module_file(module).read_text())
    names = {name for name in found if name.split(".")[0] in ("sgm", "stages") and module_file(name)}
    return set().union(*(with_packages(name) for name in names)) if names else set()


def names_imported(modules: set[str]) -> set[str]:
    """The last part of every name those modules import: what they call from elsewhere."""
    return {name.rsplit(".", 1)[-1] for module in modules for name in imports_in(module_file(module).read_text())}


def walk(modules: set[str]) -> set[str]:
    """`modules` and the project modules they reach through imports, not descending into the plumbing."""
    seen, todo = set(), list(modules)
    while todo:
        current = todo.pop()
        if current not in seen and current not in PLUMBING:
            seen.add(current)
            todo.extend(imported_modules(current))
    return seen


def code_of(module: str, kind: str) -> set[str]:
    """The modules stage module `module` runs on data of `kind`, the kind's own by name included."""
    package = KINDS[kind].package
    code = walk({module})
    while True:
        used = names_imported(code)
        dynamic = {f"{package}.layouts"} if used & READS_LAYOUT else set()
        dynamic |= {f"{package}.kind"} if used & READS_KIND else set()
        grown = walk(code | dynamic)
        if grown == code:
            return code
        code = grown


def stage_body(name: str) -> dict:
    return STAGES[name].get("do", STAGES[name])


def covered(path: str, deps: list[str]) -> bool:
    return any(path == dep or path.startswith(dep.rstrip("/") + "/") for dep in deps)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_lists_every_module_it_runs(name, kind):
    body = stage_body(name)
    module = body["cmd"].split()[2]
    deps = [dep.replace("${kind}", kind) for dep in body["deps"]]
    files = [module_file(m) for m in code_of(module, kind)]
    needed = {str(path.relative_to(REPO)) for path in files if path.read_text().strip()}  # an empty __init__ runs nothing
    missing = sorted(path for path in needed if not covered(path, deps))
    assert not missing, f"dvc.yaml stage {name!r} runs code it does not list as deps (kind {kind}): {missing}"


def test_the_import_walk_follows_imports_inside_functions_through_modules_and_kinds():
    source = "import torch\nfrom sgm.nets import fastpath\n\ndef f():\n    from sgm.nets.build import build_net\n    import sgm.core.sde as sde\n"
    assert imports_in(source) == {"torch", "sgm.nets", "sgm.nets.fastpath", "sgm.nets.build", "sgm.nets.build.build_net", "sgm.core.sde"}
    sample = code_of("stages.sample", "melodies")
    # the checkpoint loader reaches the nets; the layout and the kind by name reach the melodies' code
    assert {"stages.sample", "sgm.core.samplers", "sgm.checkpoints.inference", "sgm.nets.build", "sgm.melodies.kind", "sgm.melodies.rolls"} <= sample
    assert not sample & PLUMBING
    assert not any(module.startswith(("sgm.notes", "sgm.images")) for module in sample)
    train = code_of("stages.train", "notes")
    assert "sgm.training.loop" in train and not any(module.startswith("sgm.notes") for module in train)


def test_a_folder_dep_covers_the_modules_inside_it_only():
    assert covered("sgm/core/sde.py", ["sgm/core"]) and covered("sgm/core/sde.py", ["sgm/core/sde.py"])
    assert not covered("sgm/core_extra/sde.py", ["sgm/core"]) and not covered("sgm/core/sde.py", ["sgm/nets"])


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("name", sorted(STAGES))
def test_listed_code_deps_exist(name, kind):
    listed = [dep.replace("${kind}", kind) for dep in stage_body(name)["deps"] if dep.startswith(("sgm", "stages"))]
    assert [dep for dep in listed if not (REPO / dep).exists()] == []


def test_the_train_stage_keys_on_every_train_param_but_how_the_run_is_executed():
    from stages.common.params import RUN_SETTINGS, Train

    listed = STAGES["train"]["do"]["params"]
    assert listed[:3] == ["seed", "grid.${key}", "archs.${item.arch}"]
    assert sorted(listed[3:]) == sorted(f"train.{name}" for name in Train.model_fields if name not in RUN_SETTINGS)
    assert set(RUN_SETTINGS) <= set(Train.model_fields)
