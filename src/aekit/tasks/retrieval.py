"""Similar-item search over the codes of a fitted autoencoder: :class:`LatentIndex`.

Items are encoded once by ``estimator.transform`` and their codes kept; a query is encoded by
the same estimator and compared with every stored code. Two backends are exact:

- ``"faiss"``: FAISS's flat indexes (``IndexFlatL2``, and ``IndexFlatIP`` on unit-length codes
  for the cosine metric; ``IndexBinaryFlat`` for the Hamming metric), the optional dependency
  ``aekit[index]``;
- ``"exact"``: a torch implementation without extra dependencies, which scores blocks of
  queries against blocks of codes through ``||a - b||^2 = ||a||^2 - 2 a.b + ||b||^2`` (one
  matrix product per block) and keeps a running ``k`` best of each query; for the Hamming
  metric, numpy's XOR and popcount over packed bits, blocked the same way.

The third, ``"mih"``, is approximate, for large collections of binary codes: FAISS's
multi-index hashing (``IndexBinaryMultiHash``; Norouzi, Punjani & Fleet, CVPR 2012) compares a
query only with the codes that share one of its 16-bit substrings up to one flipped bit, and
falls back to the exact search for a query with fewer candidates than asked for.

Whatever finds the candidates, the distances returned are recomputed directly from the codes
(``sqrt(sum((a - b)^2))`` or ``1 - cos(a, b)``, in float64), so both backends report the same
numbers for the same neighbours, and no tiny negative value of the expanded formula reaches the
user.

Saved indexes are directories that hold nothing to unpickle: ``model/`` (the estimator in
aekit's own format), ``codes.npy`` and ``index.json``. They are written as a whole
(:func:`aekit.io.atomic.atomic_directory`): a reader sees the old index or the new one, never
a mix, and only an earlier index (nothing foreign in it) is ever replaced. Reading trusts
nothing: ``index.json`` is bounded in size, and the header of ``codes.npy`` is checked against
``index.json`` and the file's size before a byte of codes is read, so a damaged or hostile
directory costs little and gives a ``ValueError``.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from aekit._optional import require
from aekit._text import plural
from aekit._untrusted import (
    holds_only,
    open_regular,
    read_array,
    read_json,
    read_npy_header,
    same_kind,
    short,
)
from aekit._validation import Integer, check_value, is_int
from aekit.io.atomic import atomic_directory, check_replaceable, recover_directory
from aekit.io.model_dir import is_model_dir, read_format_json

METRICS = ("l2", "cosine", "hamming")
BACKENDS = ("auto", "faiss", "exact", "mih")
# Multi-index hashing ("mih"): the codes are cut into substrings of about MIH_BITS bits, one
# hash table each (2**16 buckets: at a million codes or more most are filled, as Norouzi et al.
# advise substrings of about log2(n) bits), and a query probes its own buckets and those MIH_FLIPS
# bit flips away. With m substrings every code within m * (MIH_FLIPS + 1) - 1 differing bits is
# found (one substring at least differs by at most MIH_FLIPS bits); farther ones may be missed.
MIH_BITS = 16
MIH_FLIPS = 1

FORMAT = "aekit-index"
FORMAT_VERSION = 1
INDEX_JSON = "index.json"
CODES = "codes.npy"
# Candidates beyond k that the float32 search hands to the exact float64 ranking.
CANDIDATE_MARGIN = 16
IDS = "ids.npy"  # the items' own ids, when add() was given some
# Item ids as saved: integers, or texts of at most this many characters.
MAX_ID_CHARS = 1024
MODEL = "model"

# index.json is a few hundred bytes; anything near this bound is not one.
MAX_INDEX_JSON_BYTES = 1 << 20

# The exact backend scores QUERY_CHUNK queries against ITEM_BLOCK codes at a time (16 MiB of
# float32) and keeps a running top k, so memory stays flat whatever the sizes: 10,000 queries
# against 60,000 codes never form the 600M-entry matrix. Blocks this size also ran faster than
# whole rows on a 2-core CPU, since the scores are read back while still in cache.
QUERY_CHUNK = 512
ITEM_BLOCK = 8192

# Below this norm a code counts as the zero vector for the cosine metric: it is left at zero,
# so its similarity with everything is 0 and its cosine distance 1.
_TINY_NORM = 1e-12


def _faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def _normalize(codes: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32."""
    norms = np.linalg.norm(codes, axis=1, keepdims=True)
    return (codes / np.maximum(norms, _TINY_NORM)).astype(np.float32)


def _check_k(k: Any, ntotal: int) -> int:
    check_value("k", k, Integer(1))
    if ntotal == 0:
        raise ValueError("the index is empty: add items with add(X) before searching")
    if k > ntotal:
        raise ValueError(
            f"k={k} neighbours asked for, but the index holds only {plural(ntotal, 'item')}"
        )
    return int(k)


class _ExactSearch:
    """Exact k-nearest-neighbour search in torch, blocked over queries and codes."""

    def __init__(self, codes: np.ndarray, metric: str) -> None:
        self.codes_t = torch.from_numpy(codes).T.contiguous()  # (d, n): one GEMM per block
        # l2 ranks the codes b of a query a by ||b||^2 - 2 a.b (||a||^2 is the same along the
        # row); cosine compares unit vectors, whose largest dot products are nearest.
        self.sq_norms = (self.codes_t * self.codes_t).sum(0) if metric == "l2" else None

    def _scores(self, queries: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        block = self.codes_t[:, start:stop]
        if self.sq_norms is None:
            return queries @ block
        return torch.addmm(self.sq_norms[start:stop], queries, block, alpha=-2.0)

    @torch.no_grad()
    def candidates(self, queries: np.ndarray, k: int) -> np.ndarray:
        """The ids of the ``k`` nearest codes of each query, in no particular order."""
        q = torch.from_numpy(queries)
        n = self.codes_t.shape[1]
        largest = self.sq_norms is None
        out = []
        for first in range(0, q.shape[0], QUERY_CHUNK):
            chunk = q[first : first + QUERY_CHUNK]
            best: tuple[torch.Tensor, torch.Tensor] | None = None
            for start in range(0, n, ITEM_BLOCK):
                scores = self._scores(chunk, start, start + ITEM_BLOCK)
                values, ids = torch.topk(
                    scores, min(k, scores.shape[1]), dim=1, largest=largest, sorted=False
                )
                ids += start
                if best is not None:  # merge with the best of the earlier blocks
                    values, ids = torch.cat([best[0], values], 1), torch.cat([best[1], ids], 1)
                    values, pick = torch.topk(
                        values, min(k, values.shape[1]), dim=1, largest=largest, sorted=False
                    )
                    ids = torch.gather(ids, 1, pick)
                best = (values, ids)
            assert best is not None  # the index is never empty here
            out.append(best[1])
        return torch.cat(out).numpy().astype(np.int64, copy=False)


class _FaissSearch:
    """FAISS's exact flat indexes."""

    def __init__(self, codes: np.ndarray, metric: str) -> None:
        faiss = require("faiss", "index")
        dim = codes.shape[1]
        self.index = faiss.IndexFlatL2(dim) if metric == "l2" else faiss.IndexFlatIP(dim)
        self.index.add(codes)

    def candidates(self, queries: np.ndarray, k: int) -> np.ndarray:
        _, ids = self.index.search(queries, k)
        return ids.astype(np.int64, copy=False)


def _words(bits: np.ndarray) -> np.ndarray:
    """Packed bits (n, B) uint8 in the form popcounts run fastest on: (n, ceil(B / 8)) uint64
    words, zero-padded (zeros add no distance), where numpy counts 64 bits at once (numpy 2);
    else the bytes as they are, counted through a table."""
    if not hasattr(np, "bitwise_count"):
        return np.ascontiguousarray(bits)
    extra = -bits.shape[1] % 8
    if extra:
        bits = np.concatenate([bits, np.zeros((len(bits), extra), dtype=np.uint8)], axis=1)
    return np.ascontiguousarray(bits).view(np.uint64)


_BYTE_BITS = np.array([bin(v).count("1") for v in range(256)], dtype=np.uint8)


def _block_distances(queries: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Hamming distances (m, b) between :func:`_words` rows: uint16 (uint32 past 65,535 bits),
    small integers that numpy sorts by radix."""
    differ = np.bitwise_xor(queries[:, None, :], codes[None, :, :])  # (m, b, W)
    counts = np.bitwise_count(differ) if differ.dtype == np.uint64 else _BYTE_BITS[differ]
    bits = differ.shape[-1] * 8 * differ.dtype.itemsize
    return counts.sum(-1, dtype=np.uint16 if bits <= 0xFFFF else np.uint32)


def hamming_distances(queries: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Hamming distances (m, n), int64, between packed bit codes ``queries`` (m, B) and
    ``codes`` (n, B), uint8.

    Examples
    --------
    >>> q = np.packbits([[1, 0, 1, 1]], axis=1)
    >>> c = np.packbits([[1, 0, 1, 1], [0, 1, 0, 0], [1, 1, 1, 1]], axis=1)
    >>> hamming_distances(q, c).tolist()
    [[0, 4, 1]]
    """
    q, c = _words(queries), _words(codes)
    out = np.empty((len(q), len(c)), dtype=np.int64)
    for first in range(0, len(q), QUERY_CHUNK):
        for start in range(0, len(c), ITEM_BLOCK):
            block = _block_distances(q[first : first + QUERY_CHUNK], c[start : start + ITEM_BLOCK])
            out[first : first + len(block), start : start + block.shape[1]] = block
    return out


class _HammingSearch:
    """Exact Hamming search over packed bits in numpy, blocked over queries and codes.

    Each block's distances are small integers, ranked by a stable (radix) sort: equal
    distances keep the order of the ids, the rule :meth:`LatentIndex.search` sorts by, and
    the running best of earlier blocks (smaller ids) goes first into each merge. So the
    candidates are the answer itself, however many ties there are."""

    def __init__(self, codes: np.ndarray) -> None:
        self.words = _words(codes)

    def candidates(self, queries: np.ndarray, k: int) -> np.ndarray:
        words, n = _words(queries), len(self.words)
        out = np.empty((len(words), k), dtype=np.int64)
        for first in range(0, len(words), QUERY_CHUNK):
            chunk = words[first : first + QUERY_CHUNK]
            best: tuple[np.ndarray, np.ndarray] | None = None
            for start in range(0, n, ITEM_BLOCK):
                distances = _block_distances(chunk, self.words[start : start + ITEM_BLOCK])
                order = np.argsort(distances, axis=1, kind="stable")[:, :k]
                distances = np.take_along_axis(distances, order, axis=1)
                ids = order + start
                if best is not None:  # merge: the earlier blocks' ids first, for ties
                    distances = np.concatenate([best[0], distances], axis=1)
                    ids = np.concatenate([best[1], ids], axis=1)
                    order = np.argsort(distances, axis=1, kind="stable")[:, :k]
                    distances = np.take_along_axis(distances, order, axis=1)
                    ids = np.take_along_axis(ids, order, axis=1)
                best = (distances, ids)
            assert best is not None  # the index is never empty here
            out[first : first + len(chunk)] = best[1]
        return out


class _FaissHammingSearch:
    """FAISS's exact binary index (``IndexBinaryFlat``), completed where ties could cut.

    FAISS orders equal distances its own way, so a query whose candidates all lie at
    distances up to the k-th (others at that distance may have been left out) is answered
    by :class:`_HammingSearch` instead; the rest are exact as they come."""

    def __init__(self, codes: np.ndarray) -> None:
        faiss = require("faiss", "index")
        self.index = faiss.IndexBinaryFlat(8 * codes.shape[1])
        self.index.add(codes)
        self.exact = _HammingSearch(codes)

    def candidates(self, queries: np.ndarray, k: int) -> np.ndarray:
        n = self.index.ntotal
        if k >= n:
            return self.exact.candidates(queries, k)
        wide = min(n, k + CANDIDATE_MARGIN)
        distances, ids = self.index.search(queries, wide)  # (m, wide), ascending
        ids = ids.astype(np.int64, copy=False)
        # Complete when every item at the k-th distance is surely among the candidates.
        cut = distances[:, k - 1] < distances[:, -1]
        out = np.empty((len(queries), k), dtype=np.int64)
        if cut.any():
            keys = distances[cut].astype(np.int64) * n + ids[cut]
            order = np.argsort(keys, axis=1)[:, :k]
            out[cut] = np.take_along_axis(ids[cut], order, axis=1)
        if (~cut).any():
            out[~cut] = self.exact.candidates(queries[~cut], k)
        return out


class _FaissMultiHashSearch:
    """FAISS's multi-index hashing (``IndexBinaryMultiHash``): approximate, for many codes.

    A query's candidates are the codes that match one of its substrings within ``MIH_FLIPS``
    flipped bits, ranked by their whole Hamming distance; a search costs about its candidates,
    not the collection. A query with fewer than ``k`` candidates is answered by
    :class:`_HammingSearch`, so every answer has ``k`` items."""

    def __init__(self, codes: np.ndarray) -> None:
        faiss = require("faiss", "index")
        bits = 8 * codes.shape[1]
        tables = max(1, bits // MIH_BITS)
        self.index = faiss.IndexBinaryMultiHash(bits, tables, bits // tables)
        self.index.nflip = MIH_FLIPS
        self.index.add(codes)
        self.exact = _HammingSearch(codes)

    def candidates(self, queries: np.ndarray, k: int) -> np.ndarray:
        if k >= self.index.ntotal:
            return self.exact.candidates(queries, k)
        _, ids = self.index.search(queries, k)  # (m, k), -1 past the candidates found
        ids = ids.astype(np.int64)
        short = (ids < 0).any(axis=1)
        if short.any():
            ids[short] = self.exact.candidates(queries[short], k)
        return ids


# The search structure of binary codes for each backend in use.
HAMMING_SEARCHES: dict[str, Any] = {
    "exact": _HammingSearch,
    "faiss": _FaissHammingSearch,
    "mih": _FaissMultiHashSearch,
}


class LatentIndex(BaseEstimator):
    """Nearest-neighbour search over the codes ``estimator.transform(X)`` of a fitted model.

    ``add(X)`` encodes items and stores their codes under consecutive ids 0, 1, 2, ... in the
    order added; ``search(X, k)`` encodes queries and returns the ``k`` stored items nearest
    to each. Search is exact with the ``"faiss"`` and ``"exact"`` backends: every stored code
    is compared (10,000 queries against 60,000 codes of size 32 take a few seconds on two CPU
    cores). For millions of binary codes, ``backend="mih"`` compares only codes near each
    query and may miss some of its true neighbours.

    Parameters
    ----------
    estimator : fitted aekit estimator
        Any fitted estimator with ``transform`` (:class:`aekit.Autoencoder`,
        :class:`aekit.VAE`, whose codes are the posterior means,
        :class:`aekit.AutoencoderClassifier`). Items and queries go through it.
    metric : {"l2", "cosine", "hamming"}, default="l2"
        ``"l2"``: the Euclidean distance ``||a - b||`` between codes (not squared).
        ``"cosine"``: ``1 - cos(a, b)``, in [0, 2]; a zero code has distance 1 to every code.
        ``"hamming"``: the number of bits in which two binary codes differ, for semantic
        hashing: the codes are ``estimator.transform(X, binary=True)``, packed bits (an
        :class:`aekit.Autoencoder` fitted with ``code_activation="binary"``), searched with
        FAISS's ``IndexBinaryFlat`` or numpy's popcount; 64-bit codes take 8 bytes an item.
    backend : {"auto", "faiss", "exact", "mih"}, default="auto"
        ``"faiss"``: FAISS's exact flat indexes (``pip install "aekit[index]"``); ``"exact"``:
        aekit's own exact search in torch; ``"auto"``: FAISS when it can be imported, else
        ``"exact"``. These return the same neighbours (up to ties between equal distances)
        with the same distances. ``"mih"`` (``metric="hamming"`` only, with FAISS):
        multi-index hashing, approximate: the codes are cut into 16-bit substrings and a query
        is compared only with codes that match one of its substrings up to one flipped bit
        (every code within ``2 * (bits // 16) - 1`` differing bits is found; 1 for codes of
        fewer than 32 bits); a query with fewer such codes than ``k`` is answered exactly.
        Returned distances are always exact.

    Attributes
    ----------
    codes_ : ndarray of shape (n_items, n_codes), float32
        The stored codes; row ``i`` belongs to id ``i``. For ``metric="hamming"``, packed
        bits: uint8 of shape ``(n_items, ceil(latent_dim / 8))``.
    item_ids_ : ndarray of shape (n_items,) or None
        The items' own names (an id column's values, file names) given to ``add``, in the
        order of ``codes_``; ``search`` returns positions, ``item_ids_[ids]`` names them.
        None when ``add`` was given none.
    metric_ : str
        The metric the search structure was built for.
    backend_ : str
        The backend in use, ``"faiss"``, ``"exact"`` or ``"mih"``.
    ntotal : int
        The number of stored items, also ``len(index)`` (0 before the first ``add``).

    Notes
    -----
    ``k`` larger than the number of stored items is an error rather than a shorter answer, so
    ``search`` always returns arrays of shape ``(n_queries, k)`` (scikit-learn's
    ``NearestNeighbors`` does the same). Rows are sorted nearest first, and equal distances are
    ordered by id. The codes are those the estimator gave when the items were added; a model
    refitted later needs a new index.

    Examples
    --------
    >>> from aekit import Autoencoder
    >>> from aekit.datasets import load_digits
    >>> from aekit.tasks import LatentIndex
    >>> X, y = load_digits()
    >>> ae = Autoencoder(latent_dim=8, epochs=2, random_state=0, verbose=False).fit(X)
    >>> index = LatentIndex(ae, metric="cosine").add(X[:1000])
    >>> len(index)
    1000
    >>> distances, ids = index.search(X[1000:1003], k=5)
    >>> distances.shape, ids.shape
    ((3, 5), (3, 5))
    >>> bool((distances[:, :-1] <= distances[:, 1:]).all())
    True
    """

    def __init__(self, estimator: Any, metric: str = "l2", backend: str = "auto") -> None:
        self.estimator = estimator
        self.metric = metric
        self.backend = backend

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> tuple[str, str]:
        """The validated metric and the backend to use."""
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {list(METRICS)}, got {self.metric!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {list(BACKENDS)}, got {self.backend!r}")
        if not callable(getattr(self.estimator, "transform", None)):
            raise ValueError(
                f"estimator must have a transform method that gives codes; "
                f"{type(self.estimator).__name__} has none"
            )
        check_is_fitted(self.estimator)
        if self.backend == "mih":
            if self.metric != "hamming":
                raise ValueError(
                    "backend='mih' (multi-index hashing) searches binary codes: use "
                    f"metric='hamming', or another backend for metric={self.metric!r}"
                )
            require("faiss", "index")
            return self.metric, "mih"
        if self.backend == "faiss":
            require("faiss", "index")  # the missing extra is reported now, not at search
            return self.metric, "faiss"
        if self.backend == "auto":
            return self.metric, "faiss" if _faiss_available() else "exact"
        return self.metric, "exact"

    def _encode(self, X: Any) -> np.ndarray:
        """Codes of ``X`` as C-contiguous float32 rows, or packed uint8 bits for the Hamming
        metric (the estimator validates ``X``)."""
        if self.metric == "hamming":
            if not _takes_binary(self.estimator):
                raise ValueError(
                    f"metric='hamming' needs binary codes, from an estimator whose transform "
                    f"takes binary=True (an Autoencoder with code_activation='binary'); "
                    f"{type(self.estimator).__name__}'s does not"
                )
            bits = np.asarray(self.estimator.transform(X, binary=True))
            if bits.ndim != 2 or bits.dtype != np.uint8:
                raise ValueError("the estimator gave binary codes that are not packed uint8 rows")
            return np.ascontiguousarray(bits)
        codes = np.asarray(self.estimator.transform(X))
        if codes.ndim != 2:
            raise ValueError(
                f"{type(self.estimator).__name__}.transform gave codes of shape {codes.shape}; "
                "a LatentIndex needs one row of codes per sample"
            )
        if not np.isfinite(codes).all():
            raise ValueError("the estimator gave non-finite codes (NaN or inf); cannot index them")
        return np.ascontiguousarray(codes, dtype=np.float32)

    def _prepare(self, codes: np.ndarray) -> np.ndarray:
        """Codes in the form the search structure compares: unit rows for cosine."""
        return _normalize(codes) if self.metric_ == "cosine" else codes

    def _structure(
        self,
    ) -> _ExactSearch | _FaissSearch | _HammingSearch | _FaissHammingSearch | _FaissMultiHashSearch:
        """The search structure for the current parameters, rebuilt when they have changed
        (through ``set_params``) since it was built."""
        metric, backend = self._check_params()
        built = getattr(self, "_search", None)
        if built is None or (metric, backend) != (self.metric_, self.backend_):
            vectors = _normalize(self.codes_) if metric == "cosine" else self.codes_
            # Built before any attribute changes, so a failure leaves no half-set state.
            if metric == "hamming":
                built = HAMMING_SEARCHES[backend](vectors)
            else:
                built = (_FaissSearch if backend == "faiss" else _ExactSearch)(vectors, metric)
            self._search, self._vectors = built, vectors
            self.metric_, self.backend_ = metric, backend
        return built

    # ------------------------------------------------------------------ public
    @property
    def ntotal(self) -> int:
        """The number of stored items."""
        codes = getattr(self, "codes_", None)
        return 0 if codes is None else int(codes.shape[0])

    def __len__(self) -> int:
        return self.ntotal

    def add(self, X: Any, ids: Any = None) -> LatentIndex:
        """Encode the items ``X`` and append their codes; their ids follow the last one.

        Parameters
        ----------
        X : array-like of shape (n_items, ...)
            Samples the estimator accepts (the shape it was fitted on).
        ids : array-like of shape (n_items,), optional
            The items' own names (integers or texts), kept in ``item_ids_`` and saved with
            the index. Every ``add`` to one index gives names, or none does.

        Returns
        -------
        self : LatentIndex
            The index itself, so calls chain: ``LatentIndex(ae).add(X).search(Q, 10)``.
        """
        self._check_params()
        codes = self._encode(X)
        if self.ntotal and codes.shape[1] != self.codes_.shape[1]:
            raise ValueError(
                f"the estimator gives codes of size {codes.shape[1]}, but the index holds codes "
                f"of size {self.codes_.shape[1]}"
            )
        names = None if ids is None else _item_ids(ids, len(codes))
        held = getattr(self, "item_ids_", None)
        if self.ntotal and (names is None) != (held is None):
            raise ValueError(
                "give ids to every add() of an index or to none: the index holds "
                f"{'named' if held is not None else 'unnamed'} items"
            )
        if names is not None:
            if held is not None and held.dtype.kind != names.dtype.kind:
                raise ValueError("the ids must all be integers or all be texts")
            self.item_ids_ = names if held is None else np.concatenate([held, names])
        elif not self.ntotal:
            self.item_ids_ = None
        self.codes_ = codes if self.ntotal == 0 else np.concatenate([self.codes_, codes])
        # A flat index is a copy of the codes, so rebuilding it costs no more than the
        # concatenation above, and keeps the structure a plain function of codes_.
        self.__dict__.pop("_search", None)
        self._structure()
        return self

    def search(self, X: Any, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` stored items nearest to each query.

        Parameters
        ----------
        X : array-like of shape (n_queries, ...)
            Query samples, in the shape the estimator was fitted on.
        k : int, default=10
            Neighbours per query, at least 1 and at most ``len(self)``.

        Returns
        -------
        distances : ndarray of shape (n_queries, k), float32
            Euclidean distances (``metric="l2"``), ``1 - cosine similarity``
            (``metric="cosine"``) or numbers of differing bits (``metric="hamming"``, whole
            numbers), ascending along each row.
        ids : ndarray of shape (n_queries, k), int64
            The ids of the neighbours (their position in the order of ``add``).
        """
        k = _check_k(k, self.ntotal)
        search = self._structure()
        queries = self._encode(X)
        if queries.shape[1] != self.codes_.shape[1]:
            raise ValueError(
                f"the estimator gives codes of size {queries.shape[1]}, but the index holds "
                f"codes of size {self.codes_.shape[1]}; was it built with another model?"
            )
        queries = self._prepare(queries)
        # Candidates are ranked by float32 scores, whose last bits depend on how the backend
        # blocks its products: items within rounding of the k-th could swap in or out. A few
        # more candidates, re-ranked by exact float64 distances, give the same k whichever
        # backend or chunking found them.
        ids = search.candidates(queries, min(self.ntotal, k + CANDIDATE_MARGIN))
        distances, ids = self._exact_distances(queries, ids)
        return distances[:, :k], np.ascontiguousarray(ids[:, :k])

    def _exact_distances(
        self, queries: np.ndarray, ids: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Distances of the candidates computed directly in float64, then rows sorted by
        (distance, id): the same numbers and order whichever backend found the candidates."""
        if self.metric_ == "hamming":
            differ = np.bitwise_xor(queries[:, None, :], self._vectors[ids])  # (m, k, B)
            counts = _BYTE_BITS[differ].sum(-1, dtype=np.int64)  # (m, k)
            order = np.lexsort((ids, counts), axis=-1)
            return (
                np.take_along_axis(counts, order, axis=1).astype(np.float32),
                np.take_along_axis(ids, order, axis=1),
            )
        distances = np.empty(ids.shape, dtype=np.float64)
        # Rows per step such that the gathered (rows, k, d) codes stay near 16M numbers.
        chunk = max(1, QUERY_CHUNK * ITEM_BLOCK // (ids.shape[1] * queries.shape[1]))
        for start in range(0, ids.shape[0], chunk):
            rows = slice(start, start + chunk)
            q = queries[rows].astype(np.float64)[:, None, :]  # (m, 1, d)
            c = self._vectors[ids[rows]].astype(np.float64)  # (m, k, d)
            if self.metric_ == "l2":
                distances[rows] = np.sqrt(((q - c) ** 2).sum(-1))
            else:
                distances[rows] = np.clip(1.0 - (q * c).sum(-1), 0.0, 2.0)
        order = np.lexsort((ids, distances), axis=-1)
        return (
            np.take_along_axis(distances, order, axis=1).astype(np.float32),
            np.take_along_axis(ids, order, axis=1),
        )

    def __sklearn_is_fitted__(self) -> bool:
        return self.ntotal > 0

    def __getstate__(self) -> dict[str, Any]:
        # FAISS indexes do not pickle or deep-copy; the structure is rebuilt from codes_ on
        # the next search.
        state = dict(super().__getstate__())
        state.pop("_search", None)
        state.pop("_vectors", None)
        return state

    # ------------------------------------------------------------------ saving
    def save(self, path: str | Path) -> Path:
        """Save the index to the directory ``path`` and return its path.

        The directory holds ``model/`` (the estimator, saved with ``estimator.save``),
        ``codes.npy`` and ``index.json`` (metric, backend, item count, code size, aekit
        version); nothing in it is pickled. It is built beside ``path`` and swapped in whole
        (:func:`aekit.io.atomic.atomic_directory`), so a failed or killed save leaves the
        earlier index readable. ``path`` must be absent, an empty directory or an aekit index
        holding nothing else (see :func:`check_index_output`); anything else is refused and
        left untouched.
        """
        from aekit._version import __version__

        metric, _ = self._check_params()
        if self.ntotal == 0:
            raise ValueError("the index is empty: add items with add(X) before saving it")
        path = check_index_output(path)
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "aekit_version": __version__,
            "metric": metric,
            "backend": self.backend,
            "count": self.ntotal,
            "dim": int(self.codes_.shape[1]),
            "estimator": type(self.estimator).__name__,
            "codes_sha256": _codes_sha256(self.codes_),
        }
        with atomic_directory(path, is_index_dir, "an aekit index") as tmp:
            self.estimator.save(tmp / MODEL)
            np.save(tmp / CODES, self.codes_, allow_pickle=False)
            if getattr(self, "item_ids_", None) is not None:
                np.save(tmp / IDS, self.item_ids_, allow_pickle=False)
            (tmp / INDEX_JSON).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(
        cls, path: str | Path, *, backend: str | None = None, device: str | None = None
    ) -> LatentIndex:
        """Load an index saved with :meth:`save`; the search structure is rebuilt from the
        codes.

        Nothing is read on trust: ``index.json`` is bounded in size and checked, and the
        header of ``codes.npy`` must announce the float32 codes of the shape ``index.json``
        gives, in a file of exactly that size, before the codes are read. When ``path`` is
        missing because a save was killed between its two renames, the earlier index is
        restored first.

        Parameters
        ----------
        path : str or Path
            The index directory.
        backend : {"auto", "faiss", "exact", "mih"}, optional
            Overrides the saved ``backend`` parameter.
        device : str, optional
            Where to put the estimator's module (see :func:`aekit.load`).

        Raises
        ------
        FileNotFoundError
            When there is no index at ``path``.
        ValueError
            When ``path`` is not an aekit index or any file in it is damaged.

        Examples
        --------
        >>> import tempfile
        >>> from aekit import Autoencoder
        >>> from aekit.datasets import load_digits
        >>> from aekit.tasks import LatentIndex
        >>> X, _ = load_digits()
        >>> ae = Autoencoder(latent_dim=4, epochs=2, random_state=0, verbose=False).fit(X)
        >>> index = LatentIndex(ae).add(X)
        >>> path = index.save(tempfile.mkdtemp() + "/index")
        >>> same = LatentIndex.load(path)
        >>> bool((same.search(X[:5], 3)[1] == index.search(X[:5], 3)[1]).all())
        True
        """
        from aekit.io import load as load_model

        path = _readable_index(Path(path))
        meta = read_index_meta(path)
        codes = _read_codes(path / CODES, meta["count"], meta["dim"], meta["metric"] == "hamming")
        # Indexes saved before the checksum was recorded load without the check.
        recorded = meta.get("codes_sha256")
        if recorded is not None and recorded != _codes_sha256(codes):
            raise ValueError(
                f"{path / CODES} is damaged: its SHA-256 differs from the one {INDEX_JSON} "
                "recorded at save"
            )
        if not (path / MODEL).is_dir():
            raise ValueError(f"{path} is not a complete aekit index: it has no {MODEL}/ folder")
        estimator = load_model(path / MODEL, device=device)
        index = cls(
            estimator,
            metric=meta["metric"],
            backend=meta["backend"] if backend is None else backend,
        )
        index._check_params()
        index.codes_ = codes
        index.item_ids_ = _read_ids(path / IDS, meta["count"]) if (path / IDS).exists() else None
        index._structure()
        return index


def _takes_binary(estimator: Any) -> bool:
    try:
        return "binary" in inspect.signature(estimator.transform).parameters
    except (TypeError, ValueError):
        return False


def _codes_sha256(codes: np.ndarray) -> str:
    """SHA-256 of the codes' values (little-endian float32, or the packed bytes of binary
    codes, row-major): detects damage to ``codes.npy`` that its header and size checks
    cannot see."""
    dtype = np.uint8 if codes.dtype == np.uint8 else np.dtype("<f4")
    return hashlib.sha256(np.ascontiguousarray(codes, dtype=dtype).tobytes()).hexdigest()


def _readable_index(path: Path) -> Path:
    """Where to read the index at ``path`` from: ``path``, or the earlier index that a save
    killed between its two renames left beside it (moved back when its writer is gone)."""
    if path.exists() or path.is_symlink():
        return path
    readable = recover_directory(path, is_index_dir)
    if readable is None:
        raise FileNotFoundError(f"no index at {path}")
    return readable


def read_index_meta(path: str | Path) -> dict[str, Any]:
    """Read and check an index directory's index.json; raise ValueError if it is not one.

    The file is read only if it is a regular file of at most ``MAX_INDEX_JSON_BYTES``; a
    missing ``path`` raises ``FileNotFoundError``.
    """
    meta = read_format_json(
        path, INDEX_JSON, FORMAT, FORMAT_VERSION, "index", "index description", MAX_INDEX_JSON_BYTES
    )
    meta_file = Path(path) / INDEX_JSON
    for key in ("count", "dim"):
        value = meta.get(key)
        if not (is_int(value) and value >= 1):
            raise ValueError(
                f"{meta_file} is damaged: {key} {short(repr(value))} is not a positive integer"
            )
    if meta.get("metric") not in METRICS:
        raise ValueError(
            f"{meta_file} is damaged: unknown metric {short(repr(meta.get('metric')))}"
        )
    if meta.get("backend") not in BACKENDS:
        meta["backend"] = "auto"  # a later aekit's backend: the exact search answers
    return meta


def _read_codes(file: Path, count: int, dim: int, bits: bool = False) -> np.ndarray:
    """The ``(count, dim)`` float32 codes of ``codes.npy`` (uint8 bytes of packed bits with
    ``bits``), refused from its header (dtype, shape, file size) before any data is read;
    finite values only."""
    want = np.dtype(np.uint8) if bits else np.dtype(np.float32)
    expected = f"{INDEX_JSON} announces {count} finite {want} codes of size {dim}"
    try:
        f = open_regular(file, "codes")
    except FileNotFoundError:
        raise ValueError(
            f"{file.parent} is not a complete aekit index: it has no {CODES}"
        ) from None
    with f:
        size = os.fstat(f.fileno()).st_size
        shape, fortran, dtype = read_npy_header(f, file)  # refuses Python objects
        if not same_kind(dtype, want) or shape != (count, dim):
            raise ValueError(f"{file} holds {dtype} codes of shape {shape}, but {expected}")
        data_bytes = count * dim * dtype.itemsize
        if size != f.tell() + data_bytes:
            raise ValueError(
                f"{file} is damaged: {size} bytes where its header and {INDEX_JSON} make "
                f"{f.tell() + data_bytes}"
            )
        codes = read_array(f, shape, fortran, dtype, file)
    if not bits and not np.isfinite(codes).all():
        raise ValueError(f"{file} holds non-finite codes (NaN or inf), but {expected}")
    return np.ascontiguousarray(codes, dtype=want)


def _item_ids(ids: Any, n: int) -> np.ndarray:
    """``ids`` as int64 or text (n,) array, checked."""
    names = np.asarray(ids)
    if names.ndim != 1 or len(names) != n:
        raise ValueError(
            f"ids must hold one name per item: {plural(n, 'item')}, ids of shape {names.shape}"
        )
    if names.dtype.kind in "iu":
        return names.astype(np.int64)
    if names.dtype.kind in "UO":
        texts = [str(v) for v in names.tolist()]
        if any(len(t) > MAX_ID_CHARS for t in texts):
            raise ValueError(f"ids must be at most {MAX_ID_CHARS} characters long")
        return np.array(texts, dtype=str) if texts else np.array([], dtype="<U1")
    raise ValueError(f"ids must be integers or texts, got {names.dtype}")


def _read_ids(file: Path, count: int) -> np.ndarray:
    """The ``count`` item ids of ``ids.npy`` (int64, or text of bounded length), checked from
    the header before they are read."""
    with open_regular(file, "item ids") as f:
        size = os.fstat(f.fileno()).st_size
        shape, fortran, dtype = read_npy_header(f, file)
        kind_ok = same_kind(dtype, np.dtype(np.int64)) or (
            dtype.kind == "U" and dtype.itemsize <= 4 * MAX_ID_CHARS
        )
        if not kind_ok or shape != (count,):
            raise ValueError(
                f"{file} holds {dtype} ids of shape {shape}, but {INDEX_JSON} announces {count} "
                "integer or text ids"
            )
        if size != f.tell() + count * dtype.itemsize:
            raise ValueError(f"{file} is damaged: its size does not match its header")
        ids = read_array(f, shape, fortran, dtype, file)
    return ids.astype(dtype.newbyteorder("="))


def check_index_output(path: str | Path) -> Path:
    """Refuse ``path`` as the target of :meth:`LatentIndex.save` unless it is absent, an empty
    directory or an aekit index that holds nothing else (:func:`is_index_dir`); returns the
    absolute path.

    Meant to be called before any work (``aekit index`` calls it before encoding the data),
    so a mistyped ``--out`` costs nothing and destroys nothing.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "notes.txt").write_text("mine")
    >>> check_index_output(folder)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: ... is a non-empty directory that is not an aekit index; not replacing it
    """
    return check_replaceable(path, is_index_dir, "an aekit index")


def is_index_dir(path: Path) -> bool:
    """Whether ``path`` is an aekit index and nothing else: ``index.json`` with aekit's index
    marker, ``codes.npy`` and ``model/`` (:func:`aekit.io.model_dir.is_model_dir`), no other
    entry. Only such a directory is ever replaced by a save."""
    try:
        if not holds_only(path, files=(INDEX_JSON, CODES, IDS), folders={MODEL: is_model_dir}):
            return False
        if not (path / CODES).is_file():
            return False
        meta = read_json(path / INDEX_JSON, MAX_INDEX_JSON_BYTES, "index description")
    except (ValueError, OSError):
        return False
    return isinstance(meta, dict) and meta.get("format") == FORMAT
