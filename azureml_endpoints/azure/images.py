"""Base images of the scoring environments, pinned to dated tags so that a build is reproducible.

Source: Azure/AzureML-Containers, the repository of Azure ML's base images. Its README lists the
supported images (openmpi4.1.0-ubuntu20.04 has left the list: Ubuntu 20.04 standard support ended on
2025-05-31) and says tags are immutable (patches are released as new tags, never backported); the
release notes under images/<image>/release-notes.md name the dated tags, the registry's
`/v2/azureml/<image>/tags/list` the newer ones. A `:latest` image would change under an unchanged stack.

Why openmpi4.1.0-ubuntu22.04 and not openmpi5.0-ubuntu24.04 (supported longer, to 2029): Azure's own
managed-identity online endpoint sample and its batch endpoint samples ("Deploy models for scoring in batch
endpoints", "Use batch endpoints with a managed identity") build on ubuntu22.04, so it is the image
Microsoft runs `azureml-inference-server-http` and the batch runtime (`azureml-dataset-runtime[fuse]`) on;
it keeps OpenMPI 4.1 of the image it replaces. Moving to 24.04 is a change of these two constants; the
environment versions are content hashes over the image, so the change registers new versions.

To take security patches: pick the newest dated tag from the tags list, change it here, deploy.
"""

# Online scoring: ml/environment/conda.yaml on this image (azureml-inference-server-http serves the script).
ONLINE_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:20250701.v1"
# Batch scoring: ml/environment/batch-conda.yaml on the same image (the batch runtime mounts inputs with fuse).
BATCH_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:20250701.v1"
