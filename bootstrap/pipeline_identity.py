"""An Entra application the GitHub workflows sign in as, with federated credentials and no secret.

Each subject is one GitHub OIDC token subject (`repo:<owner>/<repo>:pull_request`,
`repo:<owner>/<repo>:ref:refs/heads/<branch>`); each claims expression is one flexible federated identity
credential (Microsoft Entra, "Flexible federated identity credentials"), which can also match the token's
`repository_id` and `job_workflow_ref`, so a deployer trusts one environment in named workflow files only. The
roles are granted to the application's service principal; `grants` receives its object id, so a condition can
name the principal itself.
"""

from collections.abc import Callable
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
    grants: Callable[[pulumi.Output[str]], tuple[RoleGrant, ...]]  # the principal's object id -> its grants
    claims_expressions: tuple[tuple[str, str], ...] = ()  # (credential name, flexible credential expression)


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
        for credential_name, expression in args.claims_expressions:
            azuread.ApplicationFlexibleFederatedIdentityCredential(
                f"{name}-{credential_name}",
                azuread.ApplicationFlexibleFederatedIdentityCredentialArgs(
                    application_id=application.id,
                    display_name=credential_name,
                    issuer=GITHUB_ISSUER,
                    audience=args.audience,
                    claims_matching_expression=expression,
                ),
                child,
            )
        RoleAssignments(
            f"{name}-roles",
            RoleAssignmentsArgs(
                subscription_id=args.subscription_id,
                principal_id=principal.object_id,
                grants=args.grants(principal.object_id),
                propagation_seconds=None,
            ),
            child,
        )
        self.client_id = application.client_id
        self.principal_object_id = principal.object_id
        self.register_outputs({"clientId": self.client_id, "principalObjectId": self.principal_object_id})
