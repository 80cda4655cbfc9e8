"""Running the service: server and signals, lifecycle, limits, authentication, metrics."""
