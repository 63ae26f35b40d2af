"""The training engine shared by every estimator."""

from aekit.training.device import resolve_device
from aekit.training.engine import OPTIMIZERS, TrainConfig, TrainResult, evaluate, train
from aekit.training.seeding import seeded

__all__ = [
    "OPTIMIZERS",
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "resolve_device",
    "seeded",
    "train",
]
