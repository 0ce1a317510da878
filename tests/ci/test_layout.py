"""The tree shows the architecture: one audience per folder, imports only downwards, every module mapped to tests."""

import ast
import re
import subprocess

import pytest

from azureml_endpoints.paths import REPO

# What each package folder may import from the project; components sit above the package's facts and builders,
# the commands on top of everything. `tests` is imported by nothing that ships.
MAY_IMPORT = {
    "azureml_endpoints": {"azureml_endpoints"},
    "azureml_endpoints/config": {"azureml_endpoints"},
    "azureml_endpoints/azure": {"azureml_endpoints"},
    "azureml_endpoints/pulumi_io": {"azureml_endpoints"},
    "azureml_endpoints/offline": {"azureml_endpoints"},
    "azureml_endpoints/local": {"azureml_endpoints"},
    "azureml_endpoints/resources": {"azureml_endpoints"},
    "azureml_endpoints/cli": {"azureml_endpoints", "components"},
    "components": {"azureml_endpoints", "components"},
}
# components/workspace/info.py is the one WorkspaceInfo and lookup.py reads it from Azure: the workspace concept,
# which every component takes; everything else in components/ defines a ComponentResource.
NOT_COMPONENTS = {"components/workspace/info.py", "components/workspace/lookup.py"}


def tracked(*patterns: str) -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", *patterns], cwd=REPO, capture_output=True, text=True
    )
    return sorted(f for f in out.stdout.split() if (REPO / f).is_file())


def package_modules() -> list[str]:
    return [f for f in tracked("azureml_endpoints", "components") if f.endswith(".py") and not f.endswith("__init__.py")]


def project_imports(path: str) -> set[str]:
    tree = ast.parse((REPO / path).read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return {n for n in names if n.split(".")[0] in {"azureml_endpoints", "components", "tests", "benchmarks", "scripts"}}


@pytest.mark.parametrize("module", package_modules())
def test_imports_go_downwards_only(module):
    folder = next(f for f in sorted(MAY_IMPORT, key=len, reverse=True) if module.startswith(f + "/"))
    allowed = MAY_IMPORT[folder]
    wrong = sorted(i for i in project_imports(module) if i.split(".")[0] not in allowed)
    assert not wrong, f"{module} imports {wrong}; {folder}/ may import only {sorted(allowed)}"


def test_components_holds_only_component_resources():
    for module in [m for m in package_modules() if m.startswith("components/") and m not in NOT_COMPONENTS]:
        tree = ast.parse((REPO / module).read_text())
        bases = [ast.unparse(b) for node in tree.body if isinstance(node, ast.ClassDef) for b in node.bases]
        assert "pulumi.ComponentResource" in bases, f"{module} defines no ComponentResource: it belongs in azureml_endpoints/"


def test_no_tools_folder_and_no_sys_path_edits_in_what_ships():
    assert not (REPO / "tools").exists()
    # The evaluator puts the project folder on sys.path as the Python language host does for the program it runs.
    emulates_the_language_host = {"azureml_endpoints/offline/evaluate.py"}
    for module in [*package_modules(), "__main__.py", *tracked("bootstrap")]:
        if module.endswith(".py") and module not in emulates_the_language_host:
            assert "sys.path.insert" not in (REPO / module).read_text(), module


def _readme_map() -> dict[str, list[str]]:
    rows = re.findall(r"^\| `([^`]+\.py)` \| (.+) \|$", (REPO / "tests/README.md").read_text(), re.M)
    return {module: re.findall(r"`([^`]+)`", tests) for module, tests in rows}


def test_tests_readme_maps_every_module_to_tests_that_exist():
    mapped = _readme_map()
    missing = sorted(set(package_modules()) - set(mapped))
    assert not missing, f"tests/README.md does not say where these are tested: {missing}"
    stale = sorted(set(mapped) - set(package_modules()) - {"__main__.py"})
    assert not stale, f"tests/README.md maps modules that no longer exist: {stale}"
    for module, tests in mapped.items():
        for test in tests:
            assert (REPO / "tests" / test).is_file(), f"tests/README.md: {module} -> {test} does not exist"


def test_every_test_file_sits_in_a_folder_of_the_layout():
    folders = {"config", "program", "policies", "cli", "runtime", "bootstrap", "ci", "offline"}
    for test in tracked("tests"):
        if test.endswith(".py") and test.rsplit("/", 1)[-1].startswith("test_"):
            assert test.split("/")[1] in folders, f"{test}: put it in one of tests/{sorted(folders)}"
