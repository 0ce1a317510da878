"""Every rule of the pack, grouped by module."""

from guardrails import api_versions, assets, endpoints, identity, network, registry, roles, storage, workspace

ALL_POLICIES = [
    *identity.POLICIES,
    *roles.POLICIES,
    *storage.POLICIES,
    *registry.POLICIES,
    *endpoints.POLICIES,
    *api_versions.POLICIES,
    *assets.POLICIES,
    *workspace.POLICIES,
    *network.POLICIES,
]
