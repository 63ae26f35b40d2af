"""The training engine shared by every estimator: batch sources, the epoch loop, its
callbacks and checkpoints."""

from aekit.training.batching import default_batch_size
from aekit.training.callbacks import (
    SCHEDULES,
    Callback,
    EarlyStopping,
    GradientClipping,
    LRSchedule,
    NanGuard,
    ProgressBar,
    default_callbacks,
)
from aekit.training.checkpoint import Checkpoint, StageCheckpoint
from aekit.training.device import resolve_device
from aekit.training.engine import OPTIMIZERS, TrainConfig, TrainResult, TrainState, evaluate, train
from aekit.training.seeding import seeded
from aekit.training.sources import BatchSource, TensorSource

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "BatchSource",
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "GradientClipping",
    "LRSchedule",
    "NanGuard",
    "ProgressBar",
    "StageCheckpoint",
    "TensorSource",
    "TrainConfig",
    "TrainResult",
    "TrainState",
    "default_batch_size",
    "default_callbacks",
    "evaluate",
    "resolve_device",
    "seeded",
    "train",
]
