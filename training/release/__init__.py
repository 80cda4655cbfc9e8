"""From a run to a shipped model: evaluation, selection, averaging, distillation, release."""
