"""``python -m training`` is ``translator-train`` (used under ``torchrun -m training``)."""

import sys

from training.cli import train_command

sys.exit(train_command())
