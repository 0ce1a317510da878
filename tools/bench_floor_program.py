"""The benchmark's floor: the same azure-native resources as a stack, registered directly, nothing else.

No settings, no components, no workspace lookup, no hashing, no dependencies: each resource the real
program registered (read from the JSON file named by BENCH_FLOOR_SPEC) is constructed with its
azure-native class and literal inputs. What the real program costs above this is its own work.
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


for resource in json.loads(open(os.environ["BENCH_FLOOR_SPEC"]).read()):
    _, module, kind = resource["type"].split(":")
    cls = getattr(importlib.import_module(f"{pulumi_azure_native.__name__}.{module}"), kind)
    kwargs = {}
    for key, value in resource["inputs"].items():
        arg = snake(key)
        if arg == "resource_name":  # clashes with the logical name in every resource constructor
            arg = "resource_name_"
        kwargs[arg] = literal(value)
    cls(resource["name"], **kwargs)
