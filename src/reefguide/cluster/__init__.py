"""Where workers run: a `ComputeBackend` protocol and its backends (local, ECS)."""
