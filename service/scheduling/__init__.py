"""Translation work: the model registry, routing and pivoting, detection, the batching queue and its clock."""
