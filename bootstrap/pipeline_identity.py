"""An Entra application the GitHub workflows sign in as, with federated credentials and no secret.

Each subject is one GitHub OIDC token subject (`repo:<owner>/<repo>:pull_request`,
`repo:<owner>/<repo>:ref:refs/heads/<branch>`, `repo:<owner>/<repo>:environment:<name>`); the roles are
granted to the application's service principal.
"""

from dataclasses import dataclass

import pulumi
import pulumi_azuread as azuread

from components.role_assignments import RoleAssignments, RoleAssignmentsArgs, RoleGrant

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"


@dataclass(frozen=True)
class PipelineIdentityArgs:
    display_name: str
    owner_object_id: str
    subjects: tuple[tuple[str, str], ...]  # (credential name, subject)
    audience: str
    subscription_id: str
    grants: tuple[RoleGrant, ...]


class PipelineIdentity(pulumi.ComponentResource):
    def __init__(self, name: str, args: PipelineIdentityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("azureml-endpoints:bootstrap:PipelineIdentity", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        application = azuread.Application(
            f"{name}-application",
            azuread.ApplicationArgs(display_name=args.display_name, owners=[args.owner_object_id], sign_in_audience="AzureADMyOrg"),
            child,
        )
        principal = azuread.ServicePrincipal(
            f"{name}-principal",
            azuread.ServicePrincipalArgs(client_id=application.client_id, owners=[args.owner_object_id]),
            child,
        )
        for credential_name, subject in args.subjects:
            azuread.ApplicationFederatedIdentityCredential(
                f"{name}-{credential_name}",
                azuread.ApplicationFederatedIdentityCredentialArgs(
                    application_id=application.id,
                    display_name=credential_name,
                    issuer=GITHUB_ISSUER,
                    subject=subject,
                    audiences=[args.audience],
                ),
                child,
            )
        RoleAssignments(
            f"{name}-roles",
            RoleAssignmentsArgs(
                subscription_id=args.subscription_id,
                principal_id=principal.object_id,
                grants=args.grants,
                propagation_seconds=None,
            ),
            child,
        )
        self.client_id = application.client_id
        self.principal_object_id = principal.object_id
        self.register_outputs({"clientId": self.client_id, "principalObjectId": self.principal_object_id})
