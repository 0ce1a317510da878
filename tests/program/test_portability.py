"""Every Azure cloud: no cloud's host names in the code that deploys or runs (they come from Azure)."""

import re

from azureml_endpoints.paths import REPO, project_dir

# Endpoint suffixes that differ between the public, China and US Government clouds.
CLOUD_SPECIFIC = re.compile(
    r"core\.windows\.net|chinacloudapi\.cn|usgovcloudapi\.net|vault\.azure\.net|azurecr\.io|"
    r"inference\.ml\.azure\.com|login\.microsoftonline|management\.azure\.com|\bml\.azure\.com|azure\.cn\b"
)
# Identifiers that are the same in every cloud and are never contacted as hosts of one cloud.
SAME_EVERYWHERE = (
    "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",  # ARM template $schema
)


def code_files():
    """The product's code, and the scoring code of the project the tests run on (root ml/ is a team's to replace)."""
    for path in REPO.rglob("*.py"):
        relative = path.relative_to(REPO)
        if relative.parts[0] in ("tests", ".venv", "ml") or "site-packages" in relative.parts:
            continue
        if relative.as_posix() == "azureml_endpoints/offline/arm_mocks.py":  # the fake cloud's own names (example-cloud.test)
            continue
        yield path
    yield from sorted((project_dir() / "ml").rglob("*.py"))


def test_no_cloud_specific_host_names_in_code():
    offenders = []
    for path in code_files():
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for identifier in SAME_EVERYWHERE:
                line = line.replace(identifier, "")
            if CLOUD_SPECIFIC.search(line):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_check_would_catch_a_hard_coded_host():
    assert CLOUD_SPECIFIC.search('blob_url = f"https://{account}.blob.core.chinacloudapi.cn/"')
    assert CLOUD_SPECIFIC.search('"https://myaccount.blob.core.windows.net"')
