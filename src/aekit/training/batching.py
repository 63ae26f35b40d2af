"""The size-aware default batch size of every estimator (``batch_size=None``)."""

from __future__ import annotations

# What a short run needs is gradient steps: Adam at lr 1e-3 moves by about lr per step, so a
# fixed number of epochs over a small set at the usual batch of 256 takes too few of them
# (900 training images: 4 steps an epoch, 60 in a 15-epoch run, and grey blobs). The default
# gives every epoch about STEPS_PER_EPOCH steps, with batches of MIN_BATCH to MAX_BATCH
# samples: a small set gets smaller batches, a set of MAX_BATCH * STEPS_PER_EPOCH = 5,120
# training samples or more the usual MAX_BATCH (54,000 of MNIST's 60,000 after a 10%
# validation split: 256, as before).
#
# Measured (dense Autoencoder defaults, 15 epochs, early stopping on as by default (it did
# not stop any of these runs), seeds 0-2, one CPU thread of a shared machine; test error =
# summed squared error per image, mean of the seeds; /tmp scripts, not kept):
# - MNIST, 1,000 training images (900 after the split), 2,000 test images: batch 256 35.5
#   (2.6 s a fit), 128 31.5, 64 25.7, the rule's 45 22.9 (3.6 s), 32 22.6 (4.5 s), 16 21.5
#   (9.4 s). The VAE: 256 82.5, 45 39.0. With 100 epochs the rule loses nothing: 256 20.8
#   (7.0 s), 45 20.1 (5.8 s; early stopping comes sooner).
# - digits, 1,500 of them (1,350 after the split) against the other 297: 256 4.18, 128 3.07,
#   the rule's 67 1.96, 32 1.21, 16 0.78 (0.07 s to 0.65 s a fit). The VAE: 256 5.25, 45 3.39.
# - MNIST, 5,000 training images (4,500): 256 18.1, the rule's 225 17.8, 128 15.8, 64 13.6
#   at twice the time of 225.
# Smaller batches go on lowering a short run's error, at a cost: below about 64 samples a step
# costs nearly as much as a larger one on a CPU (per-step overheads dominate), so each halving
# nearly doubles the time of an epoch. The rule fixes the failure (a run of a few dozen steps)
# without making mid-sized and large runs slower; past that the number of epochs is the
# user's budget. The floor of 16 keeps each gradient an average over enough samples to stay
# steady on tiny tables. The anomaly detector used this rule first (its ODDS figures were
# measured with it).
STEPS_PER_EPOCH = 20
MIN_BATCH = 16
MAX_BATCH = 256


def default_batch_size(n_samples: int) -> int:
    """Samples per gradient step for ``n_samples`` training samples when ``batch_size=None``.

    About :data:`STEPS_PER_EPOCH` (20) steps an epoch, at least 16 and at most 256 samples a
    step: ``min(256, max(16, n_samples // 20))``.

    Examples
    --------
    >>> default_batch_size(900), default_batch_size(100), default_batch_size(54_000)
    (45, 16, 256)
    """
    return int(min(MAX_BATCH, max(MIN_BATCH, int(n_samples) // STEPS_PER_EPOCH)))
