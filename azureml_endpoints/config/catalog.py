"""What each deployment runs: models, code and environments, referenced the way `az ml` deployment YAML does.

A deployment names its model as
  - `azureml:<name>:<version>`: a model already registered in the workspace (nothing is uploaded);
  - `azureml://registries/<registry>/models/<name>/versions/<version>`: a model in an Azure ML registry;
  - `<name>` or `<name>:<version>`: an entry of the stack's `models` catalog, uploaded and registered here;
and its environment likewise (`azureml:`, a registry environment, or an entry of `environments`).

A deployment runs exactly what it, or its model's catalog entry, names: there is no default model, code or
environment. A `models` entry may carry the code folder, scoring script and environment it is meant to run
with, so a deployment can name just the model (a deployment's own value wins). A custom model runs the code
it is given, so one with no code anywhere is refused; an MLflow model runs with a scoring script and
environment, or with none (a no-code deployment, Azure builds both). A referenced model (`azureml:`, a
registry) states its type on the deployment (`modelType`), so a no-code deployment is always deliberate.
Every repository path is relative to the project directory (azureml_endpoints/paths.py).

Azure ML requires a workspace model version to be a positive integer, and asset versions are immutable:
changed content under a registered version is refused here, before anything reaches Azure, by comparing
each catalog model's content hash with the committed lock file `ml/models.lock.json`.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import os
import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from azureml_endpoints.config.base import ConfigModel, quote
from azureml_endpoints.config.names import ASSET_NAME, ML_REGISTRY_NAME, AssetName
from azureml_endpoints.paths import MODEL_LOCK, model_lock_file, project_dir

POSITIVE_INTEGER = re.compile(r"[1-9][0-9]*")
# A workspace model version is an integer on the service (Azure/MachineLearningNotebooks#289: "it's still an int");
# bounded to a signed 32-bit integer, as the lock file reader bounds it, so 2^31 is refused before any upload.
MAX_MODEL_VERSION = 2**31 - 1
# A label, not a version: `azureml:<name>@latest` resolves to whatever is newest when the stack runs, and so does a
# version spelled `latest` (`.../versions/latest`, `azureml:<env>:latest`).
LABELS = ("latest",)
CONDA_FILE_LIMIT = 1 << 20  # bytes: a conda file lists packages, a few kilobytes
ASSET_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,29}")  # environments and registry assets
# An image reference pinned by tag or digest: `<registry>/<repository>:<tag>` or `...@sha256:<64 hex>`.
IMAGE_REFERENCE = re.compile(
    r"(?P<repository>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)+)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?"
)


class ModelType(str, Enum):
    CUSTOM = "custom_model"
    MLFLOW = "mlflow_model"


def repository_path(value: str, kind: Literal["file", "folder", "any"]) -> Path:
    """A path inside the project, relative to its directory, that exists as `kind`; else ValueError."""
    root = project_dir()
    if not value or value.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", value):
        raise ValueError(
            f"{quote(value)} must be a path relative to the project directory (the folder of Pulumi.yaml), such as ml/model-1/model"
        )
    try:
        resolved = (root / value).resolve()
        inside = resolved == root or root in resolved.parents
        exists = resolved.is_file() if kind == "file" else resolved.is_dir() if kind == "folder" else resolved.exists()
    except (OSError, ValueError) as error:  # over-long or otherwise unusable names
        raise ValueError(f"{quote(value)} is not a usable path ({error.__class__.__name__})") from None
    if not inside or ".git" in resolved.relative_to(root).parts:
        raise ValueError(f"{quote(value)} is outside the project directory")
    if resolved == root:
        raise ValueError(f"{quote(value)} is the whole project: name the folder or file itself")
    if not exists:
        raise ValueError(f"{quote(value)} does not exist in the project (expected a {'file or folder' if kind == 'any' else kind})")
    return resolved


def project_relative(path: Path) -> str:
    """A resolved project path as the stack files write it (posix, relative to the project directory)."""
    return path.relative_to(project_dir()).as_posix()


def script_in_folder(folder: Path, script: str) -> str:
    """A scoring script as Azure takes it: a path relative to the code folder (subfolders allowed), never outside it."""
    shown = project_relative(folder)
    if not script or script.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", script) or "\\" in script:
        raise ValueError(f"{quote(script)} must be a path relative to the code folder {shown}, such as score.py or src/score.py")
    try:
        resolved = (folder / script).resolve()
        is_file = resolved.is_file()
    except (OSError, ValueError):
        resolved, is_file = folder, False
    if folder not in resolved.parents:
        raise ValueError(
            f"{quote(script)} is outside the code folder {shown}: Azure uploads only that folder, so the script must be inside it"
        )
    if not is_file or resolved.suffix != ".py":
        found = ", ".join(sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.py") if "__pycache__" not in p.parts)) or "none"
        what = "a Python (.py) file" if is_file else "a file"
        raise ValueError(f"{quote(script)} is not {what} in the code folder {shown} (Python files there: {found})")
    return resolved.relative_to(folder).as_posix()


def conda_dependencies(path: Path, shown: str) -> None:
    """A conda file is a UTF-8 YAML mapping with a `dependencies` list ("Manage Azure Machine Learning environments":
    the conda specification the image build runs `conda env create` on); a binary file or a README is refused here."""
    import yaml  # only stacks with a conda file need it

    with path.open("rb") as handle:
        data = handle.read(CONDA_FILE_LIMIT + 1)
    rule = f"{quote(shown)} is not a conda file (a UTF-8 YAML mapping with a dependencies list)"
    if len(data) > CONDA_FILE_LIMIT:
        raise ValueError(f"{rule}: larger than {CONDA_FILE_LIMIT} bytes")
    try:
        document = yaml.safe_load(data.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as error:
        raise ValueError(f"{rule}: {error.__class__.__name__}") from None
    if not isinstance(document, dict) or not isinstance(document.get("dependencies"), list):
        raise ValueError(f"{rule}: no dependencies list")


def positive_integer_version(value: Any) -> int:
    """Azure ML workspace model versions are positive integers; `"1"` or `1.0` would register another version."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_MODEL_VERSION:
        raise ValueError(
            f"{quote(value)} is not a model version: write a positive integer, unquoted, up to {MAX_MODEL_VERSION} (version: 1)"
        )
    return value


def asset_files(path: Path) -> list[Path]:
    """The files of a file or folder asset in a stable order, without caches; ValueError for what must not upload.

    A symbolic link anywhere inside the asset whose target leaves the repository is refused: it would upload
    whatever the machine running `pulumi up` holds there (a pull request can commit one). A link to a folder is not
    followed (its target is checked all the same). File names must be UTF-8, as blob names are."""
    if path.is_symlink():
        _inside_repository(path)
    if path.is_file():
        return [path]
    found: list[Path] = []
    for folder, folders, names in os.walk(path, followlinks=False):
        base = Path(folder)
        folders[:] = sorted(f for f in folders if f != "__pycache__")
        for name in folders + names:
            entry = base / name
            if entry.is_symlink():
                _inside_repository(entry)
            _utf8_name(entry)
        found += [base / name for name in names if (base / name).is_file()]
    return sorted(found)


def _inside_repository(link: Path) -> None:
    target, root = link.resolve(), project_dir().resolve()
    if target != root and root not in target.parents:
        where = link.relative_to(root).as_posix() if root in link.parents else str(link)
        raise ValueError(f"{where} is a symbolic link to {target}, outside the repository: refused (it would upload that file)")


def _utf8_name(entry: Path) -> None:
    try:
        entry.name.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{entry.parent}: a file name that is not UTF-8 ({entry.name!r}); blob names are UTF-8") from None


def content_sha256(path: Path) -> str:
    """SHA-256 over (relative name, content) of every file: equal for equal content, whatever the folder is called.

    Settings check it against the lock and the assets record it: a model is read once per run, however large,
    unless a file's size or modification time changes in between; each file is streamed, never held whole."""
    files = asset_files(path)
    return _content_sha256(path, tuple((f, f.stat().st_size, f.stat().st_mtime_ns) for f in files))


@functools.cache
def _content_sha256(path: Path, files: tuple[tuple[Path, int, int], ...]) -> str:
    root = path if path.is_dir() else path.parent
    digest = hashlib.sha256()
    for file, _, _ in files:
        digest.update(file.relative_to(root).as_posix().encode() + b"\0" + file_sha256(file))
    return digest.hexdigest()


def file_sha256(file: Path) -> bytes:
    """A file's SHA-256, read in blocks (hashlib.file_digest): a 2 GB model costs a buffer, not 2 GB."""
    with file.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").digest()


def short_version(*parts: tuple[str, bytes]) -> str:
    """First 16 hex digits of a SHA-256 over (name, content) pairs: code and environment versions."""
    digest = hashlib.sha256()
    for name, content in parts:
        digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    return digest.hexdigest()[:16]


def code_version(folder: Path) -> str:
    """First 16 hex digits of a SHA-256 over the folder's files: an unchanged folder keeps its version."""
    return short_version(*[(p.relative_to(folder).as_posix(), p.read_bytes()) for p in asset_files(folder)])


def code_asset_name(folder: Path) -> str:
    """The folder's name as an asset name (letters, digits, '-', '_' and '.')."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", folder.name).lstrip("._-") or "code"


def code_identity(folder: Path) -> tuple[str, str]:
    """The Azure code asset a folder registers as: (name, content version)."""
    return code_asset_name(folder), code_version(folder)


class CatalogModelConfig(ConfigModel):
    """A model this repository ships: uploaded to the workspace's default datastore and registered.

    It may carry what it is meant to run with (code, scoringScript, environment): a deployment that names the
    model runs those unless it names its own."""

    name: AssetName = Field(description="Model name in the workspace.")
    version: int = Field(description="Positive integer, unquoted, as `az ml model create --version`.")
    path: str = Field(description="A folder or file in the project, relative to its directory.")
    type: ModelType = Field(description="custom_model (runs the code it names) or mlflow_model (a folder with an MLmodel file).")
    description: str | None = Field(None, max_length=5000, description="Shown on the registered model version.")
    code: str | None = Field(None, description="Project folder with the scoring code this model runs with.")
    scoring_script: str | None = Field(None, description="The script in code that defines init() and run(); a path relative to code.")
    environment: str | None = Field(
        None, description="The environment this model runs in: an entry of environments, or azureml:<name>:<version>."
    )

    _version = field_validator("version", mode="before")(lambda value: positive_integer_version(value))

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        asset_files(repository_path(value, "any"))  # what would upload: no link out of the repository
        return value

    @field_validator("code")
    @classmethod
    def _code(cls, value: str | None) -> str | None:
        if value is not None:
            repository_path(value, "folder")
        return value

    @model_validator(mode="after")
    def _script_and_layout(self) -> CatalogModelConfig:
        if self.code is not None and self.scoring_script is None:
            raise ValueError(f"scoringScript: is required with code (the file in {self.code} that defines init() and run())")
        if self.scoring_script is not None:
            if self.code is None:
                raise ValueError("code: scoringScript names a file of a code folder: add code, the folder it is in")
            try:
                script_in_folder(self.code_path, self.scoring_script)
            except ValueError as error:
                raise ValueError(f"scoringScript: {error}") from None
        # Azure reads an MLflow model's signature and flavors from the MLmodel file at the folder's root.
        if self.type is ModelType.MLFLOW and not (self.files_path / "MLmodel").is_file():
            raise ValueError(f"path: an mlflow_model is a folder with an MLmodel file at its root ({self.path} has none)")
        return self

    @property
    def files_path(self) -> Path:
        return (project_dir() / self.path).resolve()

    @property
    def code_path(self) -> Path | None:
        return (project_dir() / self.code).resolve() if self.code else None

    @property
    def reference(self) -> str:
        return f"{self.name}:{self.version}"


class CatalogEnvironmentConfig(ConfigModel):
    """An environment this repository defines: a pinned base image plus an optional conda file."""

    name: AssetName = Field(description="Environment name in the workspace.")
    image: str = Field(description="Base image pinned by tag or digest, e.g. mcr.microsoft.com/azureml/<image>:<dated tag>.")
    conda_file: str | None = Field(None, description="A conda YAML file in the project, relative to its directory.")
    description: str | None = Field(None, max_length=5000, description="Shown on the registered environment version.")

    @field_validator("image")
    @classmethod
    def _pinned(cls, value: str) -> str:
        found = IMAGE_REFERENCE.fullmatch(value)
        if not found:
            raise ValueError(f"{value!r} is not an image reference such as mcr.microsoft.com/azureml/<image>:<tag>")
        if not found["digest"] and found["tag"] in (None, "latest"):
            raise ValueError(
                f"{value!r} is not pinned: name a dated tag or a @sha256 digest, so the same stack always builds the same image"
            )
        return value

    @field_validator("conda_file")
    @classmethod
    def _conda(cls, value: str | None) -> str | None:
        if value is not None:
            conda_dependencies(repository_path(value, "file"), value)
        return value

    @property
    def conda_path(self) -> Path | None:
        return (project_dir() / self.conda_file).resolve() if self.conda_file else None

    @property
    def version(self) -> str:
        """Content hash of image and conda file: environment versions may be strings, so no lock is needed."""
        conda = self.conda_path.read_bytes() if self.conda_path else b""
        return short_version(("conda", conda), ("image", self.image.encode()))

    @property
    def reference(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class AssetRef:
    """A parsed model or environment reference. `entry` is set for catalog (repository) assets."""

    kind: Literal["catalog", "workspace", "registry"]
    name: str
    version: str
    registry: str | None = None
    entry: CatalogModelConfig | CatalogEnvironmentConfig | None = None

    @property
    def label(self) -> str:
        where = {"catalog": "repository", "workspace": "workspace", "registry": f"registry {self.registry}"}[self.kind]
        return f"{self.name}:{self.version} ({where})"


def _did_you_mean(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name.casefold(), [k.casefold() for k in known], n=1, cutoff=0.6)
    return f"; did you mean {quote(next(k for k in known if k.casefold() == close[0]))}?" if close else ""


def parse_model_reference(value: str, catalog: list[CatalogModelConfig]) -> AssetRef:
    """One of the three model forms, or ValueError saying which forms exist."""
    if value.startswith("azureml://"):
        return _registry_reference(value, "models")
    if value.startswith("azureml:"):
        name, _, version = value[len("azureml:") :].partition(":")
        if "@" in name:
            raise ValueError(f"{value!r}: name an exact version (azureml:<name>:<version>); labels such as @latest change under a stack")
        _check(ASSET_NAME.pattern, name, value, "model name")
        if not POSITIVE_INTEGER.fullmatch(version) or len(version) > 10 or int(version) > MAX_MODEL_VERSION:
            raise ValueError(
                f"{value!r}: a workspace model version is a positive integer up to {MAX_MODEL_VERSION} (azureml:<name>:<version>)"
            )
        return AssetRef("workspace", name, version)
    name, sep, version = value.partition(":")
    candidates = [m for m in catalog if m.name.lower() == name.lower()]
    if sep:
        candidates = [m for m in candidates if str(m.version) == version]
    if len(candidates) == 1:
        entry = candidates[0]
        return AssetRef("catalog", entry.name, str(entry.version), entry=entry)
    known = ", ".join(m.reference for m in catalog) or "none"
    if len(candidates) > 1:
        raise ValueError(f"{value!r} matches versions {', '.join(m.reference for m in candidates)} in models: name one as <name>:<version>")
    hint = _did_you_mean(value, [m.reference for m in catalog] + [m.name for m in catalog]) if catalog else ""
    raise ValueError(
        f"{value!r} is not in models (entries: {known}){hint}; add a models entry, or for a model already registered use "
        "azureml:<name>:<version>, for a registry model azureml://registries/<registry>/models/<name>/versions/<version>"
    )


def parse_environment_reference(value: str, catalog: list[CatalogEnvironmentConfig]) -> AssetRef:
    """One of the three environment forms, or ValueError saying which forms exist."""
    if value.startswith("azureml://"):
        return _registry_reference(value, "environments")
    if value.startswith("azureml:"):
        name, sep, version = value[len("azureml:") :].partition(":")
        if "@" in name or not sep:
            raise ValueError(f"{value!r}: name an exact version (azureml:<name>:<version>); labels such as @latest change under a stack")
        _check(ASSET_NAME.pattern, name, value, "environment name")
        _check(ASSET_VERSION, version, value, "version")
        return AssetRef("workspace", name, version)
    candidates = [e for e in catalog if e.name.lower() == value.lower()]
    if len(candidates) == 1:
        entry = candidates[0]
        return AssetRef("catalog", entry.name, entry.version, entry=entry)
    known = ", ".join(e.name for e in catalog) or "none"
    hint = _did_you_mean(value, [e.name for e in catalog]) if catalog else ""
    raise ValueError(
        f"{value!r} is not in environments (entries: {known}){hint}; add an environments entry, or for an environment already registered use "
        "azureml:<name>:<version>, for a registry environment azureml://registries/<registry>/environments/<name>/versions/<version>"
    )


def _registry_reference(value: str, collection: str) -> AssetRef:
    """`azureml://registries/<registry>/<collection>/<name>/versions/<version>`, as `az ml` and azure-ai-ml send it."""
    found = re.fullmatch(rf"azureml://registries/([^/]+)/{collection}/([^/]+)/versions/([^/]+)", value)
    if not found:
        raise ValueError(f"{value!r} is not azureml://registries/<registry>/{collection}/<name>/versions/<version>")
    registry, name, version = found.groups()
    _check(ML_REGISTRY_NAME.pattern, registry, value, "registry name")
    _check(ASSET_NAME.pattern, name, value, f"{collection[:-1]} name")
    _check(ASSET_VERSION, version, value, "version")
    return AssetRef("registry", name, version, registry)


def _check(pattern: re.Pattern, part: str, value: str, what: str) -> None:
    if what == "version" and part.casefold() in LABELS:
        raise ValueError(f"{value!r}: name an exact version; {part!r} is a label that changes under a stack, like @latest")
    if not pattern.fullmatch(part):
        raise ValueError(f"{value!r}: {part!r} is not a valid {what}")


@dataclass(frozen=True)
class DeploymentAssets:
    """What one deployment runs. A no-code (MLflow) deployment carries no code and no environment: Azure builds both."""

    model: AssetRef
    code: Path | None  # a project folder, registered as a code asset
    scoring_script: str | None  # relative to code, posix
    environment: AssetRef | None
    model_type: ModelType = ModelType.CUSTOM


def resolve_deployment_assets(
    model: str,
    code: str | None,
    scoring_script: str | None,
    environment: str | None,
    models: list[CatalogModelConfig],
    environments: list[CatalogEnvironmentConfig],
    model_type: ModelType | None = None,
) -> DeploymentAssets:
    """The assets of one deployment from its keys and its model's catalog entry; ValueError names the key
    at fault (`key: message`). Nothing is filled in that neither names."""
    try:
        ref = parse_model_reference(model, models)
    except ValueError as error:
        raise ValueError(f"model: {error}") from None
    entry = ref.entry if isinstance(ref.entry, CatalogModelConfig) else None
    where = f"models entry {ref.name}:{ref.version}"
    if entry is not None:
        if model_type is not None and model_type is not entry.type:
            raise ValueError(f"modelType: {where} is a {entry.type.value}: remove modelType (the models entry states the type)")
        kind = entry.type
    elif model_type is None:
        raise ValueError(
            f"modelType: {model} is a referenced model, so state its type: custom_model (it runs the code and scoringScript "
            "you name) or mlflow_model (without code, a no-code deployment: Azure builds the scoring code and environment)"
        )
    else:
        kind = model_type
    if code is not None:
        try:
            code_path = repository_path(code, "folder")
            asset_files(code_path)  # what would upload: no link out of the repository
        except ValueError as error:
            raise ValueError(f"code: {error}") from None
        if scoring_script is None:
            raise ValueError(f"scoringScript: is required with code (the file in {code} that defines init() and run())")
    else:
        code_path = entry.code_path if entry else None
        scoring_script = scoring_script or (entry.scoring_script if entry else None)
        if code_path is None and scoring_script is not None:
            raise ValueError("code: scoringScript names a file of a code folder: add code, the folder it is in")
    if code_path is not None:
        try:
            scoring_script = script_in_folder(code_path, scoring_script)
        except ValueError as error:
            raise ValueError(f"scoringScript: {error}") from None
    environment = environment if environment is not None else entry.environment if entry else None
    if code_path is None:
        if kind is ModelType.CUSTOM:
            raise ValueError(f"code: {_no_code(ref, entry, models)}")
        if environment is not None:
            raise ValueError(
                "environment: a no-code mlflow_model deployment runs in the environment Azure builds; "
                "name code and scoringScript too to run your own scoring script in this environment"
            )
        return DeploymentAssets(ref, None, None, None, kind)
    if environment is None:
        raise ValueError(
            f"environment: scoring code runs in an environment you name: add environment here"
            f"{' or to the ' + where if entry else ''} (an entry of environments, or azureml:<name>:<version>)"
        )
    try:
        env_ref = parse_environment_reference(environment, environments)
    except ValueError as error:
        raise ValueError(f"environment: {error}") from None
    return DeploymentAssets(ref, code_path, scoring_script, env_ref, kind)


def _no_code(ref: AssetRef, entry: CatalogModelConfig | None, models: list[CatalogModelConfig]) -> str:
    """Why a custom model without code is refused, and the two ways out."""
    if entry is None:
        return (
            f"{ref.label} is a custom_model and no code is named: add code and scoringScript to the deployment, "
            "or set modelType: mlflow_model for a no-code deployment of an MLflow model"
        )
    index = models.index(entry)
    mlflow_hint = (
        f"; {entry.path} has an MLmodel file: if it is an MLflow model, set models[{index}].type: mlflow_model"
        if (entry.files_path / "MLmodel").is_file()
        else ""
    )
    return (
        f"{ref.label} is a custom_model and no code is named: add code and scoringScript to the deployment, "
        f"or to models[{index}] so every deployment of it runs them{mlflow_hint}"
    )


LOCK_HASH = re.compile(r"sha256:[0-9a-f]{64}")
_LOCK_LIMIT = 1 << 20  # bytes: a lock of a few thousand versions is tens of kilobytes


class LockFileError(ValueError):
    """ml/models.lock.json is unreadable or of the wrong shape; the message names the file and the entry."""


def read_model_lock(path: Path | None = None) -> dict[str, dict[str, str]]:
    """`{model name: {version: "sha256:<hex>"}}` from the committed lock file (empty when there is none).

    Its shape is checked whole, so every later use may trust it: an object whose `models` maps asset names to
    objects of positive-integer version keys and `sha256:<64 hex>` values."""
    path = path or model_lock_file()
    root = project_dir().resolve()
    shown = path.relative_to(root).as_posix() if root in path.resolve().parents else str(path)
    try:
        if path.stat().st_size > _LOCK_LIMIT:
            raise LockFileError(f"{shown}: larger than {_LOCK_LIMIT} bytes; not a lock file")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        raise LockFileError(f"{shown}: cannot be read ({getattr(error, 'strerror', None) or error})") from None
    try:
        document = json.loads(text)
    except RecursionError:
        raise LockFileError(f"{shown}: nested too deeply to be a lock file") from None
    except ValueError as error:
        raise LockFileError(f"{shown}: not JSON ({error}); restore it from git and run `azureml-endpoints model-lock --add`") from None
    if not isinstance(document, dict):
        raise LockFileError(f"{shown}: must be an object with a `models` object, not {type(document).__name__}")
    models = document.get("models", {})
    if not isinstance(models, dict):
        raise LockFileError(f"{shown}: `models` must be an object of model name -> versions, not {type(models).__name__}")
    lock: dict[str, dict[str, str]] = {}
    for name, versions in models.items():
        if not ASSET_NAME.pattern.fullmatch(name):
            raise LockFileError(f"{shown}: models.{name[:40]!r} is not a model name")
        if not isinstance(versions, dict):
            raise LockFileError(f"{shown}: models.{name} must be an object of version -> hash, not {type(versions).__name__}")
        for version, digest in versions.items():
            if not POSITIVE_INTEGER.fullmatch(version) or len(version) > 10 or int(version) > MAX_MODEL_VERSION:
                raise LockFileError(f"{shown}: models.{name}.{version[:20]!r} is not a model version (a positive integer)")
            if not isinstance(digest, str) or not LOCK_HASH.fullmatch(digest):
                raise LockFileError(f"{shown}: models.{name}.{version} must be 'sha256:<64 hex digits>', not {str(digest)[:40]!r}")
        lock[name] = dict(versions)
    return lock


def lock_problem(entry: CatalogModelConfig, lock: dict[str, dict[str, str]]) -> str | None:
    """Why a catalog model does not match the lock file, or None when it does."""
    locked = lock.get(entry.name, {}).get(str(entry.version))
    actual = "sha256:" + content_sha256(entry.files_path)
    if locked is None:
        return (
            f"{entry.reference} is not in {MODEL_LOCK}: run `azureml-endpoints model-lock --add` and commit the lock file "
            "(a registered version can never change content)"
        )
    if locked != actual:
        return (
            f"the content under {entry.path} changed since {entry.reference} was locked ({locked[:19]}… → {actual[:19]}…); "
            "Azure ML model versions are immutable: bump the version and run `azureml-endpoints model-lock --add`"
        )
    return None
