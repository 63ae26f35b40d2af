"""Recommendation with AutoRec: an autoencoder that fills in a ratings matrix."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.validation import check_is_fitted

from aekit._repr import result_repr
from aekit._validation import (
    Boolean,
    Constraint,
    Integer,
    Options,
    OrNone,
    Real,
    Widths,
    check_value,
    is_int,
    is_number,
)
from aekit.estimators.base import (
    TRAINING_CONSTRAINTS,
    TorchEstimator,
    batch_independent,
    inference_rows,
)
from aekit.losses import LossOutput
from aekit.losses.regularizers import weight_penalty
from aekit.models.autorec import (
    AUTOREC_HIDDEN,
    autorec_network,
    fold_mean,
    masked_squared_error,
)
from aekit.training import OPTIMIZERS, seeded, train

# Column names recognised when `user_column` / `item_column` / `rating_column` are None, compared
# in lower case without "_", "-" or spaces: userId, user_id, UserID and user are users;
# movieId, itemId, item_id, item and movie are items; rating and Rating are ratings.
COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "user": ("userid", "user"),
    "item": ("itemid", "item", "movieid", "movie"),
    "rating": ("rating",),
}

# The damping (ridge weight) of the baseline biases is chosen among DAMPINGS on the held-out
# share of the ratings: it is the prior's strength, depends on the data and is cheap to choose
# (a few closed-form solves each). The grid spans Koren's 10 and 25 (2010) and a decade below;
# on MovieLens "latest-small" 2 was chosen. Without a held-out share DEFAULT_DAMPING is taken.
DAMPINGS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0)
DEFAULT_DAMPING = 10.0
# Alternating solves of the biases at most (they settle to 1e-7 in a few dozen on MovieLens).
BIAS_SWEEPS = 200


def _canonical(name: Any) -> str:
    return "".join(c for c in str(name).lower() if c not in "_- ")


def _find_column(names: list[str], role: str, given: str | None) -> str:
    """The column of ``names`` holding ``role`` ("user", "item" or "rating")."""
    if given is not None:
        if given not in names:
            raise ValueError(f"the ratings table has no column {given!r} ({role}s); it has {names}")
        return given
    found = [n for n in names if _canonical(n) in COLUMN_NAMES[role]]
    if not found:
        raise ValueError(
            f"the ratings table has no {role} column (looked for {role}Id, {role}_id, {role} "
            f"and the like among {names}); name it with {role}_column="
        )
    if len(found) > 1:
        raise ValueError(
            f"the ratings table has several {role} columns {found}; choose one with {role}_column="
        )
    return found[0]


# Rows parsed at a time by `read_ratings`: the Python lists of one chunk (about 60 MB) are the
# only per-row objects alive, so a file of 25 million ratings needs its final arrays and no more.
CHUNK_ROWS = 200_000


def _typed(text: np.ndarray) -> np.ndarray:
    """``text`` as int64 if every value is an integer, else float64 if every one is a number,
    else unchanged."""
    for dtype in (np.int64, np.float64):
        try:
            return text.astype(dtype)
        except (ValueError, OverflowError):
            continue
    return text


def _rows(path: Path) -> Iterator[tuple[list[str], list[tuple[int, list[str]]]]]:
    """The header, then chunks of (line number, fields) of a delimited text file."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        first = f.readline()
        if not first.strip():
            raise ValueError(f"{path} is empty: a ratings table needs a header line and rows")
        if path.suffix.lower() == ".tsv":
            delimiter = "\t"
        else:
            try:
                delimiter = csv.Sniffer().sniff(first, delimiters=",\t;|").delimiter
            except csv.Error:
                delimiter = ","
        header = next(csv.reader([first], delimiter=delimiter))
        reader = csv.reader(f, delimiter=delimiter)
        chunk: list[tuple[int, list[str]]] = []
        for row in reader:
            if row:  # blank lines
                chunk.append((reader.line_num + 1, row))  # + the header line
            if len(chunk) == CHUNK_ROWS:
                yield header, chunk
                chunk = []
        yield header, chunk


def read_ratings(path: str | Path) -> dict[str, np.ndarray]:
    """Read a ratings table (.csv, .tsv or .txt with a header line) into its columns.

    The separator is a tab for a .tsv file and otherwise detected among comma, tab,
    semicolon and pipe from the header line. A column whose every value is an integer
    becomes int64, one of numbers float64, anything else stays text (a rating column of text
    is then refused by :meth:`AutoRec.fit`). The file is parsed :data:`CHUNK_ROWS` rows at a
    time into typed arrays, so its memory is about that of the arrays (MovieLens-25M: 25
    million ratings, 0.8 GB in four 8-byte columns), not of Python objects for every cell.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "ratings.csv"
    >>> _ = path.write_text("userId,movieId,rating\\n1,10,4.5\\n2,10,3\\n")
    >>> columns = read_ratings(path)
    >>> columns["userId"].tolist(), columns["rating"].tolist()
    ([1, 2], [4.5, 3.0])
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path} is not a file")
    header: list[str] = []
    parts: list[list[np.ndarray]] = []
    for header, chunk in _rows(path):
        parts = parts or [[] for _ in header]
        for line, row in chunk:
            if len(row) != len(header):
                raise ValueError(
                    f"{path}, line {line}: {len(row)} fields, the header has {len(header)}"
                )
        for j, column in enumerate(parts):
            if chunk:
                column.append(_typed(np.array([row[j] for _, row in chunk])))
    if not parts or not parts[0]:
        raise ValueError(f"{path} holds no ratings, only a header")
    columns: dict[str, np.ndarray] = {}
    for j, (name, column) in enumerate(zip(header, parts, strict=True)):
        kinds = {part.dtype.kind for part in column}
        if kinds <= {"i", "f"}:
            columns[name] = np.concatenate(column, dtype=np.float64 if "f" in kinds else None)
        else:  # text somewhere: the whole column as written (a second pass: "007" stays so)
            columns[name] = np.concatenate(
                [np.array([row[j] for _, row in chunk]) for _, chunk in _rows(path) if chunk]
            )
    return columns


def _ids(values: np.ndarray, role: str) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct ids of ``values`` (int64 or str) and each value's index among them."""
    values = np.asarray(values)
    if values.dtype.kind == "O":
        if all(isinstance(v, str) for v in values):
            values = values.astype(str)
        elif all(is_int(v) for v in values):
            values = values.astype(np.int64)
    kind = values.dtype.kind
    if kind == "f" and np.isfinite(values).all() and (values == np.round(values)).all():
        values = values.astype(np.int64)  # whole numbers read as floats (a column with NaN once)
        kind = "i"
    if kind in "iu":
        values = values.astype(np.int64)
    elif kind == "U":
        if (np.char.str_len(values) == 0).any():
            raise ValueError(f"the {role} ids hold an empty name")
        if any("\0" in v for v in values.tolist()):  # texts are saved NUL-padded
            raise ValueError(f"the {role} ids hold a NUL character")
    else:
        raise ValueError(
            f"the {role} ids must be integers or texts, not {values.dtype} (missing ids?)"
        )
    return np.unique(values, return_inverse=True)


def _ratings_of(values: Any) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype.kind == "O":
        if not all(is_number(v) for v in values):
            raise ValueError("the ratings hold missing or non-numeric values")
        values = values.astype(np.float64)
    if values.dtype.kind not in "iuf":
        raise ValueError(f"the ratings must be numbers, not {values.dtype}")
    values = values.astype(np.float64)
    if not np.isfinite(values).all():
        bad = int(np.flatnonzero(~np.isfinite(values))[0])
        raise ValueError(f"the ratings hold NaN or infinite values (row {bad} first)")
    return values


class Ratings(NamedTuple):
    """A ratings table as indices: ``matrix`` (users x items, CSR, float32) and the ids."""

    matrix: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray


def _as_ratings(X: Any, columns: tuple[str | None, str | None, str | None]) -> Ratings:
    """``X`` (a ratings table or a sparse matrix) as a :class:`Ratings`."""
    if sp.issparse(X):
        matrix = sp.csr_matrix(X, dtype=np.float64)
        matrix.sum_duplicates()
        if matrix.nnz == 0:
            raise ValueError("the ratings matrix holds no rating (no stored entry)")
        matrix.data = _ratings_of(matrix.data)
        n_users, n_items = matrix.shape
        return Ratings(
            matrix.astype(np.float32), np.arange(n_users, dtype=np.int64), np.arange(n_items)
        )
    if isinstance(X, Mapping) or hasattr(X, "columns"):
        names = [str(n) for n in (list(X) if isinstance(X, Mapping) else list(X.columns))]
        roles = zip(COLUMN_NAMES, columns, strict=True)
        found = [_find_column(names, role, given) for role, given in roles]
        if len(set(found)) < 3:
            raise ValueError(f"the user, item and rating columns must differ, got {found}")
        user, item, rating = (np.asarray(X[n]).reshape(-1) for n in found)
        if not len(rating):
            raise ValueError("the ratings table is empty")
        values = _ratings_of(rating)
        user_ids, u = _ids(user, "user")
        item_ids, i = _ids(item, "item")
        matrix = sp.csr_matrix((values, (u, i)), shape=(len(user_ids), len(item_ids)))
        if matrix.nnz < len(values):
            pairs = u.astype(np.int64) * len(item_ids) + i
            _, first, counts = np.unique(pairs, return_index=True, return_counts=True)
            row = int(first[np.argmax(counts > 1)])
            # tolist: Python values, so the message shows 783, not np.int64(783)
            (who,), (what,) = user[row : row + 1].tolist(), item[row : row + 1].tolist()
            raise ValueError(
                f"user {who!r} rated item {what!r} more than once; keep one rating per pair"
            )
        return Ratings(matrix.astype(np.float32), user_ids, item_ids)
    raise ValueError(
        "AutoRec takes a ratings table (a DataFrame or a dict of columns: user, item, rating) "
        f"or a scipy sparse matrix (users x items), not {type(X).__name__}"
    )


def fit_biases(
    matrix: sp.csr_matrix, damping: float = DEFAULT_DAMPING
) -> tuple[float, np.ndarray, np.ndarray]:
    """The baseline r_ui ~ mu + b_u + b_i of a ratings matrix (users x items, CSR).

    mu is the mean rating; the biases minimise
    sum (r_ui - mu - b_u - b_i)^2 + damping (sum b_u^2 + sum b_i^2) over the stored ratings,
    found by alternating the two exact ridge solves b_i = sum_u (r_ui - mu - b_u) /
    (damping + n_i) and b_u = sum_i (r_ui - mu - b_i) / (damping + n_u) until they settle
    (Koren 2010's regularised baseline): a bias estimated from few ratings shrinks towards 0.

    Returns mu, the user biases (n_users,) and the item biases (n_items,), float64; a user or
    an item without ratings has a bias of 0.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> R = sp.csr_matrix([[5.0, 3.0], [4.0, 0.0]])  # user 1 did not rate item 1
    >>> mu, bu, bi = fit_biases(R, damping=1e-9)  # almost no damping: the ratings are met
    >>> mu, round(float(mu + bu[0] + bi[0]), 6), round(float(mu + bu[1] + bi[0]), 6)
    (4.0, 5.0, 4.0)
    >>> fit_biases(R, damping=1.0)[2].round(3).tolist()  # shrunk towards 0
    [0.381, -0.524]
    """
    coo = matrix.tocoo()
    r = coo.data.astype(np.float64)
    mu = float(r.mean())
    n_users, n_items = matrix.shape
    n_u = np.bincount(coo.row, minlength=n_users)
    n_i = np.bincount(coo.col, minlength=n_items)
    b_u, b_i = np.zeros(n_users), np.zeros(n_items)
    for _ in range(BIAS_SWEEPS):
        before = b_i
        b_i = np.bincount(coo.col, r - mu - b_u[coo.row], n_items) / np.maximum(damping + n_i, 1)
        b_u = np.bincount(coo.row, r - mu - b_i[coo.col], n_users) / np.maximum(damping + n_u, 1)
        if np.abs(b_i - before).max() < 1e-7:
            break
    return mu, b_u, b_i


def choose_damping(train: sp.csr_matrix, held: sp.csr_matrix) -> float:
    """The damping of :data:`DAMPINGS` whose baseline fitted on ``train`` predicts the
    ``held`` ratings (same shape) with the lowest squared error."""
    coo = held.tocoo()

    def error(damping: float) -> float:
        mu, b_u, b_i = fit_biases(train, damping)
        return float(np.square(coo.data - mu - b_u[coo.row] - b_i[coo.col]).sum())

    return min(DAMPINGS, key=error)


class _HostCSR:
    """A CSR matrix as host tensors, densified a few rows at a time on a device."""

    def __init__(self, matrix: sp.csr_matrix) -> None:
        self.shape = matrix.shape
        self.indptr = torch.from_numpy(matrix.indptr.astype(np.int64))
        self.indices = torch.from_numpy(matrix.indices.astype(np.int64))
        self.values = torch.from_numpy(matrix.data.astype(np.float32))

    def dense(self, rows: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``rows`` (B,) (host int64) as dense values and mask (B, m) on ``device``."""
        starts = self.indptr[rows]  # (B,)
        counts = self.indptr[rows + 1] - starts  # (B,) ratings per row
        owner = torch.repeat_interleave(torch.arange(len(rows)), counts)  # (nnz_b,)
        first = torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)  # (nnz_b,)
        at = starts[owner] + torch.arange(len(owner)) - first  # (nnz_b,) into indices/values
        cols = self.indices[at].to(device)
        owner = owner.to(device)
        values = torch.zeros(len(rows), self.shape[1], device=device)  # (B, m)
        values[owner, cols] = self.values[at].to(device)
        mask = torch.zeros_like(values)  # (B, m)
        mask[owner, cols] = 1.0
        return values, mask


class RatingRows:
    """A batch source (:class:`aekit.training.BatchSource`) over rows of a sparse ratings
    matrix: each batch densifies only its own rows, never the whole matrix.

    Batches are ``[values, mask]`` (B, m): the rows' ratings (0 where unobserved) and 1 where
    observed. With ``targets`` (a matrix of the same shape holding other ratings of the same
    rows, held out for validation), they are ``[values, target_mask, target_values]``: the
    network reads ``values`` and is scored on the held-out entries.
    """

    def __init__(
        self,
        inputs: sp.csr_matrix,
        rows: np.ndarray,
        device: torch.device,
        targets: sp.csr_matrix | None = None,
    ) -> None:
        self.inputs = _HostCSR(inputs)
        self.targets = None if targets is None else _HostCSR(targets)
        self.rows = torch.from_numpy(np.asarray(rows, dtype=np.int64))
        self.device = device

    def __len__(self) -> int:
        return len(self.rows)

    def order(self) -> torch.Tensor:
        return torch.randperm(len(self)).to(self.device)

    def batches(
        self, order: torch.Tensor | None, batch_size: int, start: int = 0
    ) -> Iterator[list[torch.Tensor]]:
        n = len(self) if order is None else len(order)
        # The rows are gathered on the host: the order comes over once an epoch, not per batch.
        host_order = None if order is None else order.cpu()
        for first in range(start * batch_size, n, batch_size):
            if host_order is None:
                rows = self.rows[first : first + batch_size]
            else:
                rows = self.rows[host_order[first : first + batch_size]]
            values, mask = self.inputs.dense(rows, self.device)
            if self.targets is None:
                yield [values, mask]
            else:
                target, target_mask = self.targets.dense(rows, self.device)
                yield [values, target_mask, target]


def _objective(
    per_train_row: float, per_held_row: float, n_ratings: int, weight_decay: float
) -> Any:
    """The paper's objective divided by the ``n_ratings`` training ratings, per batch.

    A training batch of B rows stands for B * ``per_train_row`` ratings on average, so its
    squared errors over that count average, over an epoch, to the mean squared error per
    rating with every rating weighing the same, as in the paper's sum; the penalty
    (lambda / 2)(||W||^2 + ||V||^2) is divided by the same count. A validation batch (one with
    ``target``: the held-out ratings) is divided by B * ``per_held_row`` and scored without
    the penalty: the mean squared error of the held-out ratings, which early stopping watches.
    """

    def objective(
        module: torch.nn.Module,
        values: torch.Tensor,
        mask: torch.Tensor,
        target: torch.Tensor | None = None,
    ) -> LossOutput:
        prediction = module(values).x_hat  # (B, m)
        if target is not None:
            error = masked_squared_error(prediction, target, mask) / (
                values.shape[0] * per_held_row
            )
            return LossOutput(error, {"squared_error": error.detach()})
        error = masked_squared_error(prediction, values, mask) / (values.shape[0] * per_train_row)
        penalty = (weight_decay / n_ratings) * weight_penalty(module)
        return LossOutput(
            error + penalty, {"squared_error": error.detach(), "weight_decay": penalty.detach()}
        )

    return objective


def _encode_ids(ids: np.ndarray) -> np.ndarray:
    """Ids as one array for model.safetensors: int64 as they are, texts as their UTF-8 bytes
    (a (n, width) uint8 array, NUL-padded)."""
    if ids.dtype.kind in "iu":
        return ids.astype(np.int64)
    encoded = np.char.encode(ids.astype(str), "utf-8")  # (n,) fixed-width bytes
    return encoded.view(np.uint8).reshape(len(ids), encoded.dtype.itemsize)


def _decode_ids(array: np.ndarray) -> np.ndarray:
    if array.ndim == 1:
        return array.astype(np.int64)
    raw = np.ascontiguousarray(array, dtype=np.uint8).view(f"S{array.shape[1]}").reshape(-1)
    return np.char.decode(raw, "utf-8")


class _ColumnName(Constraint):
    description = "None or a column name (a string)"

    def allows(self, value: Any) -> bool:
        return value is None or isinstance(value, str)


class Recommendations(NamedTuple):
    """What :meth:`AutoRec.recommend` returns: items, best first, and their predicted ratings."""

    items: np.ndarray  # (k,) item ids, as given to fit
    ratings: np.ndarray  # (k,) predicted ratings, clipped to the fitted rating range
    known_user: bool  # False: the user was not in the fit; ranked by item biases alone

    __repr__ = result_repr


class AutoRec(TorchEstimator):
    """Rating prediction and recommendation with AutoRec (Sedhain et al. 2015).

    Item-based AutoRec (``kind="item"``, the default and the paper's best) learns, for every
    item, to reconstruct its vector of ratings by all users through one hidden layer of
    sigmoid units and a linear output, the loss counting only the observed ratings; the
    reconstruction holds a rating for every user, which predicts the missing ones.
    ``kind="user"`` (U-AutoRec) reconstructs each user's vector of item ratings instead. The
    objective is the paper's: the squared error over observed ratings plus
    (``weight_decay`` / 2) times the squared Frobenius norms of the weight matrices (biases
    not penalised), minimised by mini-batches of item (or user) vectors that are densified
    batch by batch from the sparse matrix (:class:`RatingRows`), with early stopping on a
    held-out share of the ratings.

    One departure from the paper: the vectors hold each rating's deviation from the
    regularised baseline mu + b_u + b_i (Koren 2010), not the rating itself, and the
    prediction is the baseline plus the network's output. An unobserved entry is a 0 in the
    input either way; among raw ratings a 0 reads as a rating far below the scale, while
    among deviations it reads as "as the baseline expects", which is what is known of it. On
    a trial split of MovieLens "latest-small" (validated inside its training ratings) this took
    I-AutoRec from an RMSE of 0.905, worse than the baseline's 0.888, to 0.868. The baseline
    the network trains around is fitted on its training share only, so that the held-out
    ratings stay unseen until they are scored; the one the fitted model predicts with is
    fitted on every rating.

    Two networks, averaged: early stopping on the held-out share tells how many epochs the
    network should train; a second network, from another initialisation, then trains that
    many epochs on every rating (the held-out ones included), and the predictions are the
    mean of the two (folded exactly into one network of twice the hidden units,
    :func:`aekit.models.autorec.fold_mean`). The second network sees more ratings; the mean
    of two networks trained apart has a smaller variance than either. On that trial split:
    0.861 for the first network alone, 0.858 for the second, 0.854 for their mean.
    With ``validation_fraction=0`` there is one network, trained on every rating.

    Predictions are clipped to the range of the fitted ratings (``rating_range_``).
    Cold start: a user or an item not in the fitted data has no input vector or output unit,
    so its predictions fall back to the regularised baseline mu + b_u + b_i (Koren 2010) with
    the parts that are known: mu + b_i for an unknown user, mu + b_u for an unknown item,
    mu for both. :meth:`recommend` ranks items for an unknown user by mu + b_i.

    Parameters
    ----------
    hidden : sequence of int, default=(500,)
        Widths of the sigmoid layers of the encoder, the last being the code (the decoder
        mirrors them); ``(500,)`` is the paper's network, one hidden layer of 500 units.
    kind : {"item", "user"}, default="item"
        What one sample is: an item's ratings by the users (I-AutoRec), or a user's ratings
        of the items (U-AutoRec). The paper found I-AutoRec better: an item has more ratings
        to learn from than a user, on average, in most data sets.
    weight_decay : float, default=100.0
        lambda of the paper's L2 penalty (lambda / 2)(||W||^2 + ||V||^2), next to the *sum* of
        squared errors over the training ratings. The default is the MAP reading of the
        objective: with rating noise of variance sigma^2 (about 0.75 for 1-5 star ratings)
        and a Gaussian prior of variance tau^2 on the weights, lambda = 2 sigma^2 / tau^2.
        Weights that keep a hidden unit's input (10 to 100 deviations of about 0.9) and an
        output's correction (500 sigmoid units, about 0.9) of that order have tau of 0.08 to
        0.35: lambda of about 10 to 250.
        The paper searched {0.001, 0.01, 0.1, 1, 100, 1000}; 100 is its value in that range
        (on a trial split of MovieLens "latest-small", validated inside its training ratings,
        30 and 100 were within 0.003 RMSE of each other, 300 and 1000 clearly worse:
        docs/recommendation.md). Being next to a sum, its weight per rating falls as the data
        grow, as a prior's should; a few thousand ratings want a smaller value.
    user_column, item_column, rating_column : str or None, default=None
        Columns of a ratings table; ``None`` finds each by its name, compared in lower case
        without ``_``, ``-`` or spaces: ``userid`` or ``user`` (userId, user_id); ``itemid``,
        ``item``, ``movieid`` or ``movie`` (movieId, item_id); ``rating``. A table with none
        or several of a kind is refused with the names it has.
    epochs : int, default=300
        Maximum passes over the items (users); early stopping usually ends sooner.
    batch_size : int or None, default=None
        Items (users) per step; ``None`` takes about a twentieth of them, 16 to 256
        (:func:`aekit.training.default_batch_size`).
    lr : float, default=1e-3
        The optimiser's learning rate.
    optimizer : {"adam", "sgd"}, default="adam"
    validation_fraction : float, default=0.1
        Share of the observed ratings (not of the items) held out for early stopping: the
        network reads the remaining ratings and is scored on the held-out ones; it also
        chooses the baseline's damping. A second network then trains on every rating (see
        above). 0: one network on all ratings, watching the training loss.
    early_stopping : bool, default=True
        Stop when the monitored loss has not improved for ``patience`` epochs and keep the
        best epoch's weights.
    patience : int, default=20
    lr_schedule, clip_grad_norm, precision, compile : see :class:`~aekit.Autoencoder`
    device : str, default="auto"
        ``"auto"`` uses CUDA, then MPS, then the CPU.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, the held-out share and the order of the batches.
    verbose : bool, default=True
        A progress bar over epochs, only on a terminal or in a notebook.

    Attributes
    ----------
    module_ : aekit.models.DenseAutoencoder
        The network (:func:`aekit.models.autorec.autorec_network`); with a held-out share,
        the two networks folded into one, whose output is their mean.
    user_ids_, item_ids_ : ndarray
        The ids of the fitted users and items, sorted (int64 or str, as given; 0, 1, ... for
        the rows and columns of a sparse matrix).
    ratings_ : scipy.sparse.csr_matrix of shape (n_users, n_items)
        The fitted ratings, the network's inputs at prediction time.
    global_mean_ : float
        Mean fitted rating.
    user_bias_, item_bias_ : ndarray of float64
        The regularised baseline biases (see :func:`fit_biases`), fitted on every rating:
        the baseline of the predictions, and the whole prediction for cold starts.
    bias_damping_ : float
        The biases' damping, chosen on the held-out share (:func:`choose_damping`).
    rating_range_ : tuple of float
        Lowest and highest fitted rating; predictions are clipped to it.
    history_ : list of dict
        Per epoch: ``loss`` (mean squared error per training rating plus the penalty),
        ``squared_error``, ``weight_decay``, and ``val_loss`` (mean squared error of the
        held-out ratings; its square root is their RMSE), ``time``; then the second
        network's epochs, marked ``"stage": "refit"``.
    best_epoch_ : int
        The epoch whose weights the network holds.
    batch_size_ : int
        Items (users) per gradient step used in training.
    n_features_in_ : int
        Width of one sample: the number of users (``kind="item"``) or items.

    Notes
    -----
    The matrix stays sparse on the host; each batch of rows is densified on the training
    device, so memory grows with the batch, not with the data. The fitted ratings are saved
    with the model (they are its inputs). Ids round-trip through ``save`` / ``aekit.load``,
    texts included.

    References
    ----------
    S. Sedhain, A. K. Menon, S. Sanner and L. Xie, "AutoRec: Autoencoders Meet Collaborative
    Filtering", WWW 2015 Companion. Y. Koren, "Factor in the neighbors: scalable and
    accurate collaborative filtering", ACM TKDD 4(1), 2010. MovieLens: F. M. Harper and
    J. A. Konstan, "The MovieLens Datasets: History and Context", ACM TiiS 5(4), 2015.

    Examples
    --------
    >>> import numpy as np
    >>> from aekit import AutoRec
    >>> rng = np.random.default_rng(0)
    >>> taste = rng.normal(size=(40, 2)) @ rng.normal(size=(2, 30))  # 40 users, 30 items
    >>> users, items = np.nonzero(rng.random((40, 30)) < 0.5)
    >>> table = {"user": users, "item": items, "rating": np.clip(3 + taste[users, items], 1, 5)}
    >>> model = AutoRec(hidden=(20,), epochs=30, random_state=0, verbose=False).fit(table)
    >>> model.predict([0, 0, 99], [1, 2, 1]).shape  # user 99 is unknown: biases
    (3,)
    >>> len(model.recommend(0, k=3).items)
    3
    """

    capabilities: ClassVar[frozenset[str]] = frozenset({"recommend"})

    _parameter_constraints: ClassVar[dict[str, Constraint]] = {
        "hidden": Widths("width"),
        "kind": Options(["item", "user"]),
        "weight_decay": Real(0),
        "user_column": _ColumnName(),
        "item_column": _ColumnName(),
        "rating_column": _ColumnName(),
        "epochs": Integer(1),
        "batch_size": OrNone(Integer(1)),
        "lr": Real(0, closed="neither"),
        "optimizer": Options(lambda: list(OPTIMIZERS)),
        "validation_fraction": Real(0, 1),
        "early_stopping": Boolean(),
        "patience": Integer(1),
        **TRAINING_CONSTRAINTS,
    }

    _json_state = (
        *TorchEstimator._json_state,
        "batch_size_",
        "global_mean_",
        "bias_damping_",
        "rating_range_",
    )
    _array_state = (
        "user_bias_",
        "item_bias_",
        "ratings_indptr_",
        "ratings_indices_",
        "ratings_values_",
        "user_id_array_",
        "item_id_array_",
    )

    def __init__(
        self,
        *,
        hidden: tuple[int, ...] = AUTOREC_HIDDEN,
        kind: str = "item",
        weight_decay: float = 100.0,
        user_column: str | None = None,
        item_column: str | None = None,
        rating_column: str | None = None,
        epochs: int = 300,
        batch_size: int | None = None,
        lr: float = 1e-3,
        optimizer: str = "adam",
        validation_fraction: float = 0.1,
        early_stopping: bool = True,
        patience: int = 20,
        lr_schedule: str | None = None,
        clip_grad_norm: float | None = None,
        precision: str = "fp32",
        compile: bool = False,
        device: str = "auto",
        random_state: int | np.random.RandomState | None = None,
        verbose: bool = True,
    ) -> None:
        self.hidden = hidden
        self.kind = kind
        self.weight_decay = weight_decay
        self.user_column = user_column
        self.item_column = item_column
        self.rating_column = rating_column
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.patience = patience
        self.lr_schedule = lr_schedule
        self.clip_grad_norm = clip_grad_norm
        self.precision = precision
        self.compile = compile
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fitted state
    @property
    def ratings_(self) -> sp.csr_matrix:
        """The fitted ratings, users x items (CSR, float32)."""
        shape = (len(self.user_ids_), len(self.item_ids_))
        return sp.csr_matrix(
            (self.ratings_values_, self.ratings_indices_, self.ratings_indptr_), shape=shape
        )

    # The ids as model.safetensors holds them (texts as UTF-8 bytes): `save` reads these and
    # `aekit.load` sets them, which restores user_ids_ and item_ids_.
    @property
    def user_id_array_(self) -> np.ndarray:
        return _encode_ids(self.user_ids_)

    @user_id_array_.setter
    def user_id_array_(self, value: np.ndarray) -> None:
        self.user_ids_ = _decode_ids(np.asarray(value))

    @property
    def item_id_array_(self) -> np.ndarray:
        return _encode_ids(self.item_ids_)

    @item_id_array_.setter
    def item_id_array_(self, value: np.ndarray) -> None:
        self.item_ids_ = _decode_ids(np.asarray(value))

    def _set_state(self, name: str, value: Any) -> None:
        if name == "rating_range_":
            value = (float(value[0]), float(value[1]))
        super()._set_state(name, value)

    def _sample_matrix(self) -> sp.csr_matrix:
        """The network's inputs: the fitted ratings less their baseline mu + b_u + b_i, one
        sample per row (items x users for ``kind="item"``)."""
        baseline = (self.global_mean_, self.user_bias_, self.item_bias_)
        return _residuals(self.ratings_, baseline, self.kind)

    # ------------------------------------------------------------------------ fitting
    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        checkpoint: str | Path | None = None,
        resume: bool = False,
        checkpoint_every: int = 1,
    ) -> AutoRec:
        """Train on the ratings ``X``.

        Parameters
        ----------
        X : DataFrame, dict of columns or scipy sparse matrix
            A ratings table, one row per rating, with user, item and rating columns (see
            ``user_column``; other columns are ignored; ids are integers or texts, one
            rating per user and item); or a sparse matrix of users x items whose stored
            entries are the observed ratings (stored zeros included) and whose other entries
            are unobserved; its ids are the row and column numbers.
        y : ignored
        checkpoint, resume, checkpoint_every
            As for :meth:`aekit.Autoencoder.fit`: save the training state in a folder and
            continue an interrupted run.

        Returns
        -------
        self
        """
        self._begin_fit(
            "user_ids_", "item_ids_", "ratings_indptr_", "ratings_indices_", "ratings_values_",
            "global_mean_", "user_bias_", "item_bias_", "bias_damping_", "rating_range_",
            "history_",
            "best_epoch_", "batch_size_", "n_features_in_", "input_shape_",
        )  # fmt: skip
        if not self.hidden:
            raise ValueError("hidden must hold at least one width, such as (500,)")
        ratings = _as_ratings(X, (self.user_column, self.item_column, self.rating_column))
        matrix = ratings.matrix
        self.user_ids_, self.item_ids_ = ratings.user_ids, ratings.item_ids
        self.ratings_indptr_ = matrix.indptr.astype(np.int64)
        self.ratings_indices_ = matrix.indices.astype(np.int64)
        self.ratings_values_ = matrix.data.astype(np.float32)
        self.rating_range_ = (float(matrix.data.min()), float(matrix.data.max()))
        self.n_features_in_ = int(matrix.shape[0] if self.kind == "item" else matrix.shape[1])
        self.input_shape_ = (self.n_features_in_,)
        seed, opened = self._open_checkpoint(
            checkpoint, resume, checkpoint_every, [matrix.indptr, matrix.indices, matrix.data]
        )
        train_ratings, held_ratings = _hold_out(matrix, self.validation_fraction, seed)
        # The network learns deviations from a baseline fitted on its training share alone,
        # so that nothing of the held-out ratings reaches it before they are scored.
        damping = DEFAULT_DAMPING
        if held_ratings is not None:
            damping = choose_damping(train_ratings, held_ratings)
        self.bias_damping_ = damping
        baseline = fit_biases(train_ratings, damping)
        train = _residuals(train_ratings, baseline, self.kind)
        held = None if held_ratings is None else _residuals(held_ratings, baseline, self.kind)
        device = self._resolve_device()
        train_rows = np.flatnonzero(np.diff(train.indptr))  # samples with a training rating
        config = self._train_config(len(train_rows))
        self.batch_size_ = config.batch_size
        val = None
        per_held_row = 1.0
        if held is not None:
            held_rows = np.flatnonzero(np.diff(held.indptr))
            val = RatingRows(train, held_rows, device, targets=held)
            per_held_row = held.nnz / len(held_rows)
        objective = _objective(
            train.nnz / len(train_rows), per_held_row, train.nnz, float(self.weight_decay)
        )
        n_inputs, hidden = self.n_features_in_, tuple(self.hidden)
        self._fit_network(
            lambda: autorec_network(n_inputs, hidden),
            objective,
            RatingRows(train, train_rows, device),
            config,
            seed,
            val_data=val,
            checkpoint=opened,
        )
        # Predictions and cold starts use the baseline of every fitted rating.
        baseline = fit_biases(matrix, damping)
        self.global_mean_, self.user_bias_, self.item_bias_ = baseline
        if held is not None:
            self._refit(_residuals(matrix, baseline, self.kind), seed, opened)
        return self

    def _refit(self, samples: sp.csr_matrix, seed: int, checkpoint: Any) -> None:
        """Train a second network on every rating (``samples``) for the epochs early stopping
        kept, from another initialisation, and keep the mean of the two networks."""
        rows = np.flatnonzero(np.diff(samples.indptr))
        config = self._train_config(len(rows), epochs=self.best_epoch_, early_stopping=False)
        objective = _objective(samples.nnz / len(rows), 1.0, samples.nnz, float(self.weight_decay))
        with seeded(seed + 1, self.device_):
            second = autorec_network(self.n_features_in_, tuple(self.hidden)).to(self.device_)
            result = train(
                second,
                objective,
                RatingRows(samples, rows, self.device_),
                config,
                checkpoint=None if checkpoint is None else checkpoint.stage("refit"),
            )
        self.module_ = fold_mean([self.module_, second]).to(self.device_).eval()
        self.history_ = [*self.history_, *({**r, "stage": "refit"} for r in result.history)]

    # ---------------------------------------------------------------------- inference
    def _codes(self, known: np.ndarray, query: Any, role: str) -> np.ndarray:
        """Index of each id of ``query`` among ``known`` (sorted), -1 where unknown."""
        q = np.asarray(query)
        if q.ndim == 0:
            q = q.reshape(1)
        if q.ndim != 1:
            raise ValueError(f"the {role}s must be one id or a list of ids, got shape {q.shape}")
        if q.dtype.kind == "O" and all(isinstance(v, str) for v in q.tolist()):
            q = q.astype(str)
        if known.dtype.kind == "U":
            if len(q) and q.dtype.kind != "U":
                raise ValueError(f"the {role} ids are texts; got {q.tolist()[0]!r}")
        elif len(q):
            if q.dtype.kind == "f" and np.isfinite(q).all() and (q == np.round(q)).all():
                q = q.astype(np.int64)
            if q.dtype.kind not in "iu":
                raise ValueError(f"the {role} ids are integers; got {q.tolist()[0]!r}")
        if not len(q):
            return np.zeros(0, dtype=np.int64)
        pos = np.searchsorted(known, q).clip(max=len(known) - 1)
        return np.where(known[pos] == q, pos, -1).astype(np.int64)

    @torch.no_grad()
    def _outputs(self, rows: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        """The network's outputs for the samples ``rows`` (fitted ratings as inputs), as
        (first position, (k, m) float32 outputs) chunk by chunk; each chunk has the model's
        one row count (padded), so a sample's output does not depend on the others."""
        source = _HostCSR(self._sample_matrix())
        device = self.device_
        chunk = inference_rows(int(self.n_features_in_), device)
        self.module_.eval()
        with batch_independent(device):
            for first in range(0, len(rows), chunk):
                part = torch.from_numpy(np.asarray(rows[first : first + chunk], dtype=np.int64))
                values, _ = source.dense(part, device)  # (k, m)
                k = len(part)
                if k < chunk:
                    values = torch.cat([values, values.new_zeros(chunk - k, values.shape[1])])
                out = self.module_(values).x_hat[:k]  # (k, m)
                yield first, out.float().cpu().numpy()

    def _baseline(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """mu + b_u + b_i with the parts that are known (code -1: unknown)."""
        b_u = np.where(users >= 0, self.user_bias_[users.clip(0)], 0.0)
        b_i = np.where(items >= 0, self.item_bias_[items.clip(0)], 0.0)
        return self.global_mean_ + b_u + b_i

    def predict(self, users: Any, items: Any) -> np.ndarray:
        """Predicted ratings of ``users[j]`` for ``items[j]``.

        Parameters
        ----------
        users, items : id or array-like of ids, of the same length
            Ids as given to ``fit`` (integers or texts).

        Returns
        -------
        ndarray of float64, shape (n,)
            The network's predictions clipped to ``rating_range_``; a pair whose user or
            item was not in the fit gets the baseline of the known parts (mu + b_i, mu + b_u
            or mu).
        """
        check_is_fitted(self, "module_")
        u = self._codes(self.user_ids_, users, "user")
        i = self._codes(self.item_ids_, items, "item")
        if len(u) != len(i):
            raise ValueError(f"users and items differ in length: {len(u)} and {len(i)}")
        prediction = self._baseline(u, i)
        known = np.flatnonzero((u >= 0) & (i >= 0))
        sample, unit = (i, u) if self.kind == "item" else (u, i)
        needed, where = np.unique(sample[known], return_inverse=True)
        order = np.argsort(where, kind="stable")
        for first, out in self._outputs(needed):
            lo, hi = np.searchsorted(where[order], [first, first + len(out)])
            pairs = known[order[lo:hi]]
            prediction[pairs] += out[where[order[lo:hi]] - first, unit[pairs]]
        return np.clip(prediction, *self.rating_range_)

    def recommend(self, user: Any, k: int = 10, exclude_seen: bool = True) -> Recommendations:
        """The ``k`` items with the highest predicted ratings for ``user``.

        Parameters
        ----------
        user : int or str
            A user id as given to ``fit``. An unknown user gets the items of highest
            baseline mu + b_i (``known_user`` is then False).
        k : int, default=10
            How many items; fewer when fewer are left.
        exclude_seen : bool, default=True
            Leave out the items the user rated in the fitted data.

        Returns
        -------
        Recommendations
            ``items`` (ids) and ``ratings`` (predicted, clipped to ``rating_range_``), best
            first; items are ranked by the unclipped prediction, ties by item id.
        """
        check_is_fitted(self, "module_")
        if not is_int(k) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        check_value("exclude_seen", exclude_seen, Boolean())
        code = int(self._codes(self.user_ids_, [user], "user")[0])
        scores = self.global_mean_ + self.item_bias_  # (n_items,)
        if code >= 0 and self.kind == "item":
            scores = scores + self.user_bias_[code]
            for first, out in self._outputs(np.arange(len(self.item_ids_))):
                scores[first : first + len(out)] += out[:, code]
        elif code >= 0:
            scores = scores + self.user_bias_[code] + next(self._outputs(np.array([code])))[1][0]
        candidates = np.arange(len(scores))
        if code >= 0 and exclude_seen:
            first, last = self.ratings_indptr_[code], self.ratings_indptr_[code + 1]
            candidates = np.setdiff1d(candidates, self.ratings_indices_[first:last])
        best = candidates[np.argsort(-scores[candidates], kind="stable")[: int(k)]]
        return Recommendations(
            self.item_ids_[best], np.clip(scores[best], *self.rating_range_), code >= 0
        )


def _residuals(
    ratings: sp.csr_matrix, baseline: tuple[float, np.ndarray, np.ndarray], kind: str
) -> sp.csr_matrix:
    """The network's samples: ``ratings`` (users x items) less their baseline mu + b_u + b_i,
    one sample per row (items x users for ``kind="item"``), float32."""
    mu, b_u, b_i = baseline
    coo = ratings.tocoo()
    residuals = (coo.data - (mu + b_u[coo.row] + b_i[coo.col])).astype(np.float32)
    matrix = sp.csr_matrix((residuals, (coo.row, coo.col)), shape=coo.shape)
    return matrix.T.tocsr() if kind == "item" else matrix


def _hold_out(
    matrix: sp.csr_matrix, fraction: float, seed: int
) -> tuple[sp.csr_matrix, sp.csr_matrix | None]:
    """The ratings split into a training part and a held-out ``fraction`` (None when it
    rounds to no rating), drawn with ``seed``; both keep the matrix's shape."""
    n_held = round(fraction * matrix.nnz)
    if n_held < 1 or n_held >= matrix.nnz:
        return matrix, None
    held = np.zeros(matrix.nnz, dtype=bool)
    held[np.random.RandomState(seed).permutation(matrix.nnz)[:n_held]] = True
    coo = matrix.tocoo()

    def part(keep: np.ndarray) -> sp.csr_matrix:
        return sp.csr_matrix(
            (coo.data[keep], (coo.row[keep], coo.col[keep])), shape=matrix.shape, dtype=np.float32
        )

    return part(~held), part(held)
