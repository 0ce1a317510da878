"""Base images of the shipped environments, pinned by dated tag so an unchanged stack builds the same image.

Interim values; the first-contact work chooses and cites the supported images.
"""

ONLINE_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:20250601.v1"
BATCH_IMAGE = ONLINE_IMAGE
