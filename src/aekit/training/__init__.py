"""The training engine shared by every estimator."""

from aekit.training.batching import default_batch_size
from aekit.training.device import resolve_device
from aekit.training.engine import OPTIMIZERS, TrainConfig, TrainResult, evaluate, train
from aekit.training.seeding import seeded

__all__ = [
    "OPTIMIZERS",
    "TrainConfig",
    "TrainResult",
    "default_batch_size",
    "evaluate",
    "resolve_device",
    "seeded",
    "train",
]
