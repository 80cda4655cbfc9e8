"""Checkpoints on disk: directories written atomically, manifests, metadata, verified loading."""
