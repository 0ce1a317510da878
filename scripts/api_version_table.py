"""The API version azure-native uses by default for each resource type, read from the installed SDK.

azure-native v3 has no versioned modules: the type token (`azure-native:monitor:AutoscaleSetting`) no longer
shows the API version, so the policy pack carries the table of types whose default is a preview version
(policies/guardrails/preview_api_defaults.json). Regenerate it after bumping the provider:

    .venv/bin/python -m scripts.api_version_table
"""

import json
import re
from pathlib import Path

import pulumi_azure_native

TABLE = Path(__file__).resolve().parent.parent / "policies" / "guardrails" / "preview_api_defaults.json"
_TOKEN = re.compile(r"super\(\w+, __self__\)\.__init__\(\s*'(azure-native:[^']+)'")
_VERSION = re.compile(r"Uses Azure REST API version ([0-9]{4}-[0-9]{2}-[0-9]{2}(?:-[a-z]+)?)")


def default_api_versions() -> dict[str, str]:
    """Resource type token -> the API version the installed provider sends for it."""
    versions = {}
    for path in sorted(Path(pulumi_azure_native.__file__).parent.glob("*/*.py")):
        if path.name.startswith(("_", "get_", "list_")):
            continue
        text = path.read_text()
        token, version = _TOKEN.search(text), _VERSION.search(text)
        if token and version:
            versions[token.group(1)] = version.group(1)
    return versions


def preview_defaults() -> dict[str, str]:
    return {t: v for t, v in sorted(default_api_versions().items()) if "preview" in v}


if __name__ == "__main__":
    TABLE.write_text(json.dumps(preview_defaults(), indent=0, sort_keys=True) + "\n")
    print(f"wrote {TABLE}")
