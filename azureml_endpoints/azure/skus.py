"""Managed online endpoint VM SKUs: cores and quota family, for validation and quota estimates.

Source: Azure ML "Managed online endpoints SKU list". Quota is counted per VM family in cores.
"""

ONLINE_SKUS: dict[str, tuple[int, str]] = {
    "Standard_DS1_v2": (1, "standardDSv2Family"),
    "Standard_DS2_v2": (2, "standardDSv2Family"),
    "Standard_DS3_v2": (4, "standardDSv2Family"),
    "Standard_DS4_v2": (8, "standardDSv2Family"),
    "Standard_DS5_v2": (16, "standardDSv2Family"),
    "Standard_F2s_v2": (2, "standardFSv2Family"),
    "Standard_F4s_v2": (4, "standardFSv2Family"),
    "Standard_F8s_v2": (8, "standardFSv2Family"),
    "Standard_F16s_v2": (16, "standardFSv2Family"),
    "Standard_F32s_v2": (32, "standardFSv2Family"),
    "Standard_F48s_v2": (48, "standardFSv2Family"),
    "Standard_F64s_v2": (64, "standardFSv2Family"),
    "Standard_F72s_v2": (72, "standardFSv2Family"),
    "Standard_E2s_v3": (2, "standardESv3Family"),
    "Standard_E4s_v3": (4, "standardESv3Family"),
    "Standard_E8s_v3": (8, "standardESv3Family"),
    "Standard_E16s_v3": (16, "standardESv3Family"),
    "Standard_E32s_v3": (32, "standardESv3Family"),
    "Standard_E48s_v3": (48, "standardESv3Family"),
    "Standard_E64s_v3": (64, "standardESv3Family"),
    "Standard_NC4as_T4_v3": (4, "standardNCASv3_T4Family"),
    "Standard_NC8as_T4_v3": (8, "standardNCASv3_T4Family"),
    "Standard_NC16as_T4_v3": (16, "standardNCASv3_T4Family"),
    "Standard_NC64as_T4_v3": (64, "standardNCASv3_T4Family"),
    "Standard_NC6s_v3": (6, "standardNCSv3Family"),
    "Standard_NC12s_v3": (12, "standardNCSv3Family"),
    "Standard_NC24s_v3": (24, "standardNCSv3Family"),
    "Standard_NC24ads_A100_v4": (24, "standardNCADSA100v4Family"),
    "Standard_NC48ads_A100_v4": (48, "standardNCADSA100v4Family"),
    "Standard_NC96ads_A100_v4": (96, "standardNCADSA100v4Family"),
}

_BY_LOWER = {name.lower(): (name, cores, family) for name, (cores, family) in ONLINE_SKUS.items()}


def sku_info(instance_type: str) -> tuple[str, int, str] | None:
    """(canonical name, cores, quota family) of a SKU (Azure matches names case-insensitively), or None."""
    return _BY_LOWER.get(instance_type.lower())


def sku_cores(instance_type: str) -> int | None:
    info = sku_info(instance_type)
    return info[1] if info else None


# Compute cluster (AmlCompute) VM sizes beyond the online SKUs above: vCPUs and quota family, from Azure's
# "Sizes for virtual machines in Azure" pages (Dv2 and DSv2-series, Dv3 and Dsv3-series, Ev3 and Esv3-series,
# Fsv2-series, NC-series). A cluster reserves quota for maxNodes x vCPUs of its size.
CLUSTER_VM_SIZES: dict[str, tuple[int, str]] = {
    "Standard_D1_v2": (1, "standardDv2Family"),
    "Standard_D2_v2": (2, "standardDv2Family"),
    "Standard_D3_v2": (4, "standardDv2Family"),
    "Standard_D4_v2": (8, "standardDv2Family"),
    "Standard_D5_v2": (16, "standardDv2Family"),
    "Standard_D11_v2": (2, "standardDv2Family"),
    "Standard_D12_v2": (4, "standardDv2Family"),
    "Standard_D13_v2": (8, "standardDv2Family"),
    "Standard_D14_v2": (16, "standardDv2Family"),
    "Standard_D2_v3": (2, "standardDv3Family"),
    "Standard_D4_v3": (4, "standardDv3Family"),
    "Standard_D8_v3": (8, "standardDv3Family"),
    "Standard_D16_v3": (16, "standardDv3Family"),
    "Standard_D32_v3": (32, "standardDv3Family"),
    "Standard_D2s_v3": (2, "standardDSv3Family"),
    "Standard_D4s_v3": (4, "standardDSv3Family"),
    "Standard_D8s_v3": (8, "standardDSv3Family"),
    "Standard_D16s_v3": (16, "standardDSv3Family"),
    "Standard_D32s_v3": (32, "standardDSv3Family"),
    "Standard_E2_v3": (2, "standardEv3Family"),
    "Standard_E4_v3": (4, "standardEv3Family"),
    "Standard_E8_v3": (8, "standardEv3Family"),
    "Standard_E16_v3": (16, "standardEv3Family"),
    "Standard_NC6": (6, "standardNCFamily"),
    "Standard_NC12": (12, "standardNCFamily"),
    "Standard_NC24": (24, "standardNCFamily"),
}

_VM_BY_LOWER = {name.lower(): (name, cores, family) for name, (cores, family) in {**ONLINE_SKUS, **CLUSTER_VM_SIZES}.items()}


def vm_size_info(vm_size: str) -> tuple[str, int, str] | None:
    """(canonical name, vCPUs, quota family) of a cluster VM size (online SKUs included), or None if not listed."""
    return _VM_BY_LOWER.get(vm_size.lower())
