"""Model, code and environment registered as versioned workspace assets from files in this repo.

Versions are content hashes: an unchanged repo registers the same versions, a changed file a new one.
Asset versions are immutable in Azure ML and a deployment that still uses an old one can fail if it is
deleted (SPEC section 2), so superseded versions and their blobs are retained, not deleted.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pulumi
from pulumi_azure_native import machinelearningservices as ml
from pulumi_azure_native import storage

from components.workspace import WorkspaceInfo

ML_DIR = Path(__file__).resolve().parent.parent / "ml"
ONLINE_CODE_DIR = ML_DIR / "onlinescoring"
BATCH_CODE_DIR = ML_DIR / "batchscoring"
MODEL_DIR = ML_DIR / "model"
CONDA_FILE = ML_DIR / "environment" / "conda.yaml"
ONLINE_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest"
ASSET_PREFIX = "pulumi-assets"


def folder_files(folder: Path) -> list[Path]:
    """Files of an asset folder in a stable order, without caches."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def content_version(*parts: tuple[str, bytes]) -> str:
    """First 16 hex digits of a SHA-256 over (name, content) pairs: the asset version."""
    digest = hashlib.sha256()
    for name, content in parts:
        digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    return digest.hexdigest()[:16]


def folder_version(folder: Path) -> str:
    return content_version(*[(p.relative_to(folder).as_posix(), p.read_bytes()) for p in folder_files(folder)])


@dataclass(frozen=True)
class WorkspaceAssetsArgs:
    workspace: WorkspaceInfo
    code_dirs: tuple[Path, ...] = (ONLINE_CODE_DIR,)  # each registered as a code asset named after the folder
    model_dir: Path = MODEL_DIR
    conda_file: Path = CONDA_FILE
    image: str = ONLINE_IMAGE
    model_name: str = "sklearn-regression"
    environment_name: str = "sklearn-scoring"


class WorkspaceAssets(pulumi.ComponentResource):
    """Uploads code and model folders to the workspace's default datastore and registers the versions.

    One model and one environment serve the online and the batch side: they are the same files.
    """

    def __init__(self, name: str, args: WorkspaceAssetsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("azureml-endpoints:machinelearningservices:WorkspaceAssets", name, {}, opts)
        ws = args.workspace
        self.model_version = folder_version(args.model_dir)
        conda = args.conda_file.read_text()
        self.environment_version = content_version(("conda", conda.encode()), ("image", args.image.encode()))

        self.code_ids: dict[str, pulumi.Output[str]] = {}
        for code_dir in args.code_dirs:
            code_name = code_dir.name
            version = folder_version(code_dir)
            code_path = f"{ASSET_PREFIX}/code/{code_name}/{version}"
            code_blobs = self._upload(f"{name}-{code_name}", ws, code_dir, code_path)
            code = ml.CodeVersion(
                f"{name}-{code_name}",
                ml.CodeVersionArgs(
                    name=code_name,
                    version=version,
                    resource_group_name=ws.resource_group,
                    workspace_name=ws.name,
                    properties=ml.CodeVersionPropertiesArgs(
                        code_uri=ws.datastore_blob_url(code_path),
                        description=f"Scoring code from ml/{code_name}",
                    ),
                ),
                pulumi.ResourceOptions(parent=self, depends_on=code_blobs, retain_on_delete=True),
            )
            self.code_ids[code_name] = code.id
        # The model folder keeps its own name so the scoring script finds AZUREML_MODEL_DIR/model/<file>.
        model_path = f"{ASSET_PREFIX}/model/{args.model_name}/{self.model_version}/{args.model_dir.name}"
        model_blobs = self._upload(f"{name}-model", ws, args.model_dir, model_path)
        model = ml.ModelVersion(
            f"{name}-model",
            ml.ModelVersionArgs(
                name=args.model_name,
                version=self.model_version,
                resource_group_name=ws.resource_group,
                workspace_name=ws.name,
                properties=ml.ModelVersionPropertiesArgs(
                    model_uri=ws.datastore_uri(model_path),
                    model_type="custom_model",
                    description="Ridge regression over 10 features, trained by ml/train_model.py",
                ),
            ),
            pulumi.ResourceOptions(parent=self, depends_on=model_blobs, retain_on_delete=True),
        )
        environment = ml.EnvironmentVersion(
            f"{name}-environment",
            ml.EnvironmentVersionArgs(
                name=args.environment_name,
                version=self.environment_version,
                resource_group_name=ws.resource_group,
                workspace_name=ws.name,
                properties=ml.EnvironmentVersionPropertiesArgs(
                    image=args.image,
                    conda_file=conda,
                    os_type=ml.OperatingSystemType.LINUX,
                    description="Image plus ml/environment/conda.yaml",
                ),
            ),
            pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        self.model_id = model.id
        self.environment_id = environment.id
        self.register_outputs(
            {"codeIds": self.code_ids, "modelId": self.model_id, "environmentId": self.environment_id}
        )

    def _upload(self, prefix: str, ws: WorkspaceInfo, folder: Path, blob_path: str) -> list[storage.Blob]:
        return [
            storage.Blob(
                f"{prefix}-{path.relative_to(folder).as_posix()}",
                storage.BlobArgs(
                    account_name=ws.datastore_account_name,
                    resource_group_name=ws.datastore_resource_group,
                    container_name=ws.datastore_container_name,
                    blob_name=f"{blob_path}/{path.relative_to(folder).as_posix()}",
                    type=storage.BlobType.BLOCK,
                    source=pulumi.FileAsset(str(path)),
                ),
                pulumi.ResourceOptions(parent=self, retain_on_delete=True),
            )
            for path in folder_files(folder)
        ]
