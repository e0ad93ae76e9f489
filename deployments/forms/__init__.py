"""Self-service deploy forms, one module per resource kind (see `deployments.kinds`)."""
