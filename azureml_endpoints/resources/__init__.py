"""Resources the program registers outside a component's own logic: shared builders (a hardened storage account,
a user-assigned identity), the RBAC propagation wait (a dynamic resource) and the endpoint template deployment."""
