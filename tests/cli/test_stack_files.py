"""One CLI-faithful stack reader for every tool, bounded as the CLI's YAML library is: an alias bomb, deep nesting
and an oversized file are one line each, and plan-diff reads stack files exactly as preview does."""

from __future__ import annotations

import time

import pytest

from azureml_endpoints.cli import plan_diff
from azureml_endpoints.paths import REPO, project_dir
from azureml_endpoints.pulumi_io import stack_files
from azureml_endpoints.pulumi_io.stack_files import StackFileError, read_stack_file


def laughs(levels: int, fanout: int = 9) -> str:
    """The billion-laughs document: each level an anchor holding `fanout` aliases of the one below."""
    lines = ["  a0: &a0 [" + ", ".join(['"lol"'] * fanout) + "]"]
    lines += [f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * fanout) + "]" for i in range(1, levels)]
    return "config:\n" + "\n".join(lines) + "\n"


def test_an_alias_bomb_is_one_line_and_cheap(tmp_path):
    path = tmp_path / "Pulumi.bomb.yaml"
    path.write_text(laughs(9))
    assert len(path.read_bytes()) < 1024
    started = time.perf_counter()
    with pytest.raises(StackFileError, match=r"^Pulumi\.bomb\.yaml: document contains excessive aliasing") as refused:
        read_stack_file(path)
    assert time.perf_counter() - started < 2 and "\n" not in str(refused.value)


def test_ordinary_anchors_are_read(tmp_path):
    """go-yaml lets small documents be mostly aliases (99% below 400,000 decodes): three levels of ten pass."""
    path = tmp_path / "Pulumi.anchors.yaml"
    path.write_text(laughs(3, fanout=10))
    assert len(read_stack_file(path)["a2"]) == 10


def test_the_alias_ratio_is_go_yamls():
    assert stack_files._allowed_alias_ratio(1000) == 0.99
    assert stack_files._allowed_alias_ratio(4_000_000) == 0.10
    assert stack_files._allowed_alias_ratio(2_200_000) == pytest.approx(0.545)


@pytest.mark.parametrize("depth", [65, 10_000, 200_000])
def test_deep_nesting_is_one_line_before_anything_is_built(tmp_path, depth):
    path = tmp_path / "Pulumi.deep.yaml"
    path.write_text("config:\n  azureml-endpoints:tags: " + "[" * depth + "]" * depth + "\n")
    started = time.perf_counter()
    with pytest.raises(StackFileError, match=r"^Pulumi\.deep\.yaml: line 2: nested more than 64 levels deep") as refused:
        read_stack_file(path)
    assert time.perf_counter() - started < 5 and "\n" not in str(refused.value)


def test_a_file_larger_than_arm_deploys_is_one_line(tmp_path):
    path = tmp_path / "Pulumi.big.yaml"
    path.write_text("config:\n  azureml-endpoints:tags:\n    description: " + "x" * (5 * 1024 * 1024) + "\n")
    with pytest.raises(StackFileError, match=r"^Pulumi\.big\.yaml: larger than 4 MB"):
        read_stack_file(path)


HOSTILE_FOR_PLAN_DIFF = {
    "a date": "  azureml-endpoints:rolePropagationSeconds: 2024-05-01\n",
    "!!binary": "  azureml-endpoints:tags: !!binary aGVsbG8=\n",
    "duplicate key": "  azureml-endpoints:environment: dev\n",
    "sexagesimal instance count": None,
    "config a list": None,
}


@pytest.mark.parametrize("case", HOSTILE_FOR_PLAN_DIFF)
def test_plan_diff_reads_stack_files_as_the_cli_does(tmp_path, capsys, case):
    dev = (project_dir() / "Pulumi.dev.yaml").read_text()
    if case == "sexagesimal instance count":  # yaml.safe_load reads 1:00 as 60; the CLI passes the text "1:00"
        text = dev.replace("instanceCount: 1\n", "instanceCount: 1:00\n", 1)
    elif case == "config a list":
        text = "config:\n  - a\n"
    else:
        text = dev + HOSTILE_FOR_PLAN_DIFF[case]
    before = tmp_path / "Pulumi.before.yaml"
    before.write_text(text)
    assert plan_diff.main(["--stack", "dev", "--from", str(before)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") <= 3 and "Traceback" not in err, err
    assert err.startswith("error: "), err


def test_plan_diff_refuses_utf16_as_preview_does(tmp_path, capsys):
    before = tmp_path / "Pulumi.before.yaml"
    before.write_bytes((project_dir() / "Pulumi.dev.yaml").read_text().encode("utf-16"))
    assert plan_diff.main(["--stack", "dev", "--from", str(before)]) == 1
    assert capsys.readouterr().err.startswith("error: Pulumi.before.yaml: not UTF-8 text")


@pytest.mark.parametrize("namespace", ["azureml-endpoint", "azureml_endpoints", "AzureML-Endpoints"])
def test_a_typo_of_the_config_namespace_is_refused_by_every_tool(tmp_path, capsys, namespace):
    """`azureml-endpoint:rolePropagationSeconds` reaches no one: the program would run on the default."""
    stack = project_dir() / "Pulumi.dev.yaml"
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(stack.read_text() + f"  {namespace}:rolePropagationSeconds: 5\n")
    (tmp_path / "Pulumi.yaml").write_text((REPO / "Pulumi.yaml").read_text())
    with pytest.raises(StackFileError) as refused:
        read_stack_file(path)
    assert str(refused.value) == (
        f"Pulumi.dev.yaml: '{namespace}:rolePropagationSeconds': '{namespace}' is not this project's config namespace; "
        "did you mean 'azureml-endpoints:rolePropagationSeconds'?"
    )
    assert plan_diff.main(["--stack", "dev", "--from", str(path), "--to", str(stack)]) == 1
    assert "did you mean 'azureml-endpoints:rolePropagationSeconds'?" in capsys.readouterr().err


def test_other_namespaces_pass(tmp_path):
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text("config:\n  azure-native:location: westeurope\n  pulumi:tags: {a: b}\n  azureml-endpoints:environment: dev\n")
    assert set(read_stack_file(path)) == {"azure-native:location", "pulumi:tags", "azureml-endpoints:environment"}
