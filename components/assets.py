"""Models, code and environments the stack registers as workspace assets, each once, from files in the project.

Model versions are the positive integers the stack's `models` catalog names (Azure ML refuses any other
workspace model version); code and environment versions are content hashes. Files are uploaded once per
stack: two deployments naming the same model version, code folder or environment share one registration.
Asset versions are immutable in Azure ML and a deployment that still uses an old one can fail if it is
deleted, so superseded versions and their blobs are retained, not deleted.

Every resource name derives from what the resource is, never from which other assets exist: a model
version from its catalog name and version (its blobs from its content hash), an environment from its name
and content version, a code folder from its project path (`assets-code-ml-onlinescoring`). Adding or
removing an asset renames nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
from pulumi_azure_native import machinelearningservices as ml
from pulumi_azure_native import storage

from azureml_endpoints.config.catalog import (
    AssetRef,
    CatalogEnvironmentConfig,
    CatalogModelConfig,
    DeploymentAssets,
    asset_files,
    code_asset_name,
    code_version,
    content_sha256,
    project_relative,
)
from azureml_endpoints.resources.entra_blob import EntraBlob
from components.workspace.info import WorkspaceInfo

ASSET_PREFIX = "pulumi-assets"


@dataclass(frozen=True)
class DeploymentAssetIds:
    """What a deployment resource sends: asset ids, and no code or environment for a no-code (MLflow) model."""

    model_id: pulumi.Input[str]
    code_id: pulumi.Input[str] | None
    scoring_script: str | None
    environment_id: pulumi.Input[str] | None
    model_label: str  # name:version (where), for previews and outputs

    def code_configuration(self) -> ml.CodeConfigurationArgs | None:
        """The deployment's code, or None for a no-code (MLflow) deployment: Azure builds code and environment."""
        if self.code_id is None:
            return None
        return ml.CodeConfigurationArgs(code_id=self.code_id, scoring_script=self.scoring_script)


@dataclass(frozen=True)
class WorkspaceAssetsArgs:
    workspace: WorkspaceInfo
    models: tuple[CatalogModelConfig, ...]  # registered even when no deployment uses them yet
    code_folders: tuple[Path, ...]
    environments: tuple[CatalogEnvironmentConfig, ...]


class WorkspaceAssets(pulumi.ComponentResource):
    """Uploads model and code files to the workspace's default datastore and registers the asset versions."""

    def __init__(self, name: str, args: WorkspaceAssetsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("azureml-endpoints:machinelearningservices:WorkspaceAssets", name, {}, opts)
        self._workspace = ws = args.workspace
        self._model_ids: dict[str, pulumi.Output[str]] = {}
        self._code_ids: dict[Path, pulumi.Output[str]] = {}
        self._environment_ids: dict[str, pulumi.Output[str]] = {}

        uploaded: dict[str, list[storage.Blob]] = {}  # model content path -> its blobs: equal content uploads once
        for model in _unique(args.models, lambda m: m.reference.lower()):
            digest = content_sha256(model.files_path)
            # A folder keeps its own name (AZUREML_MODEL_DIR/<folder>/<file>); a file model is the file itself.
            content_path = f"{ASSET_PREFIX}/model/{model.name}/{digest[:16]}"
            blob_root = f"{content_path}/{model.files_path.name}" if model.files_path.is_dir() else content_path
            if content_path not in uploaded:
                uploaded[content_path] = self._upload(f"{name}-model-{model.name}-{digest[:16]}", model.files_path, blob_root)
            version = ml.ModelVersion(
                f"{name}-model-{model.name}-{model.version}",
                ml.ModelVersionArgs(
                    name=model.name,
                    version=str(model.version),
                    resource_group_name=ws.resource_group,
                    workspace_name=ws.name,
                    properties=ml.ModelVersionPropertiesArgs(
                        model_uri=ws.datastore_uri(f"{content_path}/{model.files_path.name}"),
                        model_type=model.type.value,
                        description=model.description,
                        # What ml/models.lock.json holds for this version: shows in the studio which files it is.
                        tags={"contentSha256": digest, "source": model.path},
                    ),
                ),
                pulumi.ResourceOptions(parent=self, depends_on=uploaded[content_path], retain_on_delete=True),
            )
            self._model_ids[model.reference.lower()] = version.id

        folder_names = [code_asset_name(f) for f in args.code_folders]
        for folder in args.code_folders:
            code_name, version = code_asset_name(folder), code_version(folder)
            code_path = f"{ASSET_PREFIX}/code/{code_name}/{version}"
            label = code_label(folder)
            # Earlier releases named a folder whose name was unique in the stack by that name alone (a repeated name
            # got the path label); the alias keeps such deployed code versions and their blobs where they are.
            old = code_name if folder_names.count(code_name) == 1 and code_name != label else None
            blobs = self._upload(f"{name}-code-{label}", folder, code_path, f"{name}-code-{old}" if old else None)
            code = ml.CodeVersion(
                f"{name}-code-{label}",
                ml.CodeVersionArgs(
                    name=code_name,
                    version=version,
                    resource_group_name=ws.resource_group,
                    workspace_name=ws.name,
                    properties=ml.CodeVersionPropertiesArgs(
                        code_uri=ws.datastore_blob_url(code_path),
                        description=f"Scoring code from {project_relative(folder)}",
                    ),
                ),
                pulumi.ResourceOptions(
                    parent=self,
                    depends_on=blobs,
                    retain_on_delete=True,
                    aliases=[pulumi.Alias(name=f"{name}-code-{old}")] if old else None,
                ),
            )
            self._code_ids[folder] = code.id

        for environment in _unique(args.environments, lambda e: e.reference.lower()):
            registered = ml.EnvironmentVersion(
                f"{name}-environment-{environment.name}-{environment.version}",
                ml.EnvironmentVersionArgs(
                    name=environment.name,
                    version=environment.version,
                    resource_group_name=ws.resource_group,
                    workspace_name=ws.name,
                    properties=ml.EnvironmentVersionPropertiesArgs(
                        image=environment.image,
                        conda_file=environment.conda_path.read_text() if environment.conda_path else None,
                        os_type=ml.OperatingSystemType.LINUX,
                        description=environment.description,
                    ),
                ),
                pulumi.ResourceOptions(parent=self, retain_on_delete=True),
            )
            self._environment_ids[environment.reference.lower()] = registered.id

        self.register_outputs(
            {
                "modelIds": self._model_ids,
                "codeIds": {project_relative(f): i for f, i in self._code_ids.items()},
                "environmentIds": self._environment_ids,
            }
        )

    def ids_for(self, assets: DeploymentAssets) -> DeploymentAssetIds:
        """The ids one deployment sends, from the registrations above or derived from a reference."""
        return DeploymentAssetIds(
            model_id=self._asset_id(assets.model, "models", self._model_ids),
            code_id=self._code_ids[assets.code] if assets.code else None,
            scoring_script=assets.scoring_script,
            environment_id=self._asset_id(assets.environment, "environments", self._environment_ids) if assets.environment else None,
            model_label=assets.model.label,
        )

    def _asset_id(self, ref: AssetRef, collection: str, registered: dict[str, pulumi.Output[str]]) -> pulumi.Input[str]:
        if ref.kind == "catalog":
            return registered[f"{ref.name}:{ref.version}".lower()]
        if ref.kind == "registry":
            # The registry asset id, as `az ml` and azure-ai-ml send it for a deployment; it names no cloud host.
            return f"azureml://registries/{ref.registry}/{collection}/{ref.name}/versions/{ref.version}"
        # A version already registered in the workspace: its ARM id, derived from the workspace's own id.
        return pulumi.Output.concat(self._workspace.id, f"/{collection}/{ref.name}/versions/{ref.version}")

    def _upload(self, prefix: str, source: Path, blob_root: str, old_prefix: str | None = None) -> list[pulumi.CustomResource]:
        """Every file of `source` (a folder, or one file) as a blob under `blob_root`, by its path below the folder;
        with Entra when the workspace storage refuses shared keys (a private stack). `old_prefix` is the prefix the
        same blobs had before (an alias)."""
        root = source if source.is_dir() else source.parent
        ws = self._workspace
        blobs: list[pulumi.CustomResource] = []
        for path in asset_files(source):
            relative = path.relative_to(root).as_posix()
            opts = pulumi.ResourceOptions(
                parent=self,
                retain_on_delete=True,
                aliases=[pulumi.Alias(name=f"{old_prefix}-{relative}")] if old_prefix else None,
            )
            if ws.keyless:
                blobs.append(
                    EntraBlob(
                        f"{prefix}-{relative}",
                        ws.datastore_blob_endpoint,
                        ws.datastore_container_name,
                        f"{blob_root}/{relative}",
                        path,
                        opts,
                    )
                )
                continue
            blobs.append(
                storage.Blob(
                    f"{prefix}-{relative}",
                    storage.BlobArgs(
                        account_name=ws.datastore_account_name,
                        resource_group_name=ws.datastore_resource_group,
                        container_name=ws.datastore_container_name,
                        blob_name=f"{blob_root}/{relative}",
                        type=storage.BlobType.BLOCK,
                        source=pulumi.FileAsset(str(path)),
                    ),
                    opts,
                )
            )
        return blobs


def _unique(items, key) -> list:
    """First of each key, in order: the same asset named twice is registered once."""
    seen: dict = {}
    for item in items:
        seen.setdefault(key(item), item)
    return list(seen.values())


def code_label(folder: Path) -> str:
    """A code folder's part of its resource names: its project path, `/` as `-` (`ml-onlinescoring`)."""
    return project_relative(folder).replace("/", "-")
