"""The training loop: loss, steps, validation, run state on disk, the run's pictures."""
