"""The benchmark's floor: the same azure-native resources as a stack, registered directly, nothing else.

No settings, no components, no workspace lookup, no hashing: the floor imports the azure-native modules the
real program imported, and constructs each resource it registered (both read from the JSON file named by
BENCH_FLOOR_SPEC) with its azure-native class and literal inputs, waiting only for the resources whose ids
those inputs name (the mocks, like ARM, refuse an identity that does not exist yet). What the real program
costs above this is its own work, not azure-native's import time.
"""

import importlib
import json
import os
import re

import pulumi
import pulumi_azure_native


def snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def literal(value):
    if isinstance(value, dict) and set(value) == {"fileAsset"}:
        return pulumi.FileAsset(value["fileAsset"])
    if isinstance(value, dict):
        return {k: literal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [literal(v) for v in value]
    return value


def ids_in(value) -> set[str]:
    """Every string (and map key) in an input value: where it names an earlier resource's id, ARM needs that first."""
    if isinstance(value, dict):
        return set(value).union(*(ids_in(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(ids_in(v) for v in value))
    return {value} if isinstance(value, str) else set()


spec = json.loads(open(os.environ["BENCH_FLOOR_SPEC"]).read())
for module_name in spec["modules"]:
    hasattr(importlib.import_module(module_name), "__all__")  # reading an attribute executes a lazy module
registered: dict[str, pulumi.CustomResource] = {}  # id -> resource, so a resource waits for those it names
for resource in spec["resources"]:
    _, module, kind = resource["type"].split(":")
    cls = getattr(importlib.import_module(f"{pulumi_azure_native.__name__}.{module}"), kind)
    kwargs = {}
    for key, value in resource["inputs"].items():
        arg = snake(key)
        if arg == "resource_name":  # clashes with the logical name in every resource constructor
            arg = "resource_name_"
        kwargs[arg] = literal(value)
    needs = [registered[i] for i in sorted(ids_in(resource["inputs"])) if i in registered]
    if resource["type"] == "azure-native:resources:Deployment":  # a template names deployments by name, not id:
        needs = list(registered.values())  # like the program, it waits for what came before (ARM refuses otherwise)
    registered[resource["id"]] = cls(resource["name"], pulumi.ResourceOptions(depends_on=needs), **kwargs)
