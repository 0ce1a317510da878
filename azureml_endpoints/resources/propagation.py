"""An explicit wait for Azure RBAC propagation, as a resource the deployments depend on.

A new role assignment can take minutes to reach the data plane; a deployment whose init() reads
storage before then fails. This dynamic resource sleeps once when created (or when the assignments
it follows change) and never touches Azure, so it needs no provider plugin and no credentials.
"""

import hashlib
import time

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider


class _SleepProvider(ResourceProvider):
    def create(self, props):
        time.sleep(float(props["seconds"]))
        followed = "|".join(sorted(props["follows"]))
        return CreateResult(id_=hashlib.sha256(followed.encode()).hexdigest()[:32], outs=props)

    def diff(self, _id, olds, news):
        changed = olds.get("follows") != news.get("follows")
        return DiffResult(changes=changed, replaces=["follows"] if changed else [], delete_before_replace=True)


class PropagationWait(pulumi.dynamic.Resource):
    """Completes `seconds` after the role assignments named in `follows` exist."""

    def __init__(self, name: str, seconds: int, follows: pulumi.Input[list], opts: pulumi.ResourceOptions):
        super().__init__(_SleepProvider(), name, {"seconds": seconds, "follows": follows}, opts)
