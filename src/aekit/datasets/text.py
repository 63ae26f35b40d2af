"""Documents as features: one document a line, TF-IDF vectors kept sparse.

A model trained on texts (``aekit train DOCS --text``) keeps its vocabulary and inverse
document frequencies as :class:`TextFeatures` (saved in its config.json, nothing pickled), so
that ``aekit index`` and ``aekit search`` turn new documents into the same features.

The features are scikit-learn's TF-IDF (:class:`~sklearn.feature_extraction.text.
TfidfVectorizer`): lower-cased words of two or more letters or digits, sublinear term
frequency (1 + log tf: the tenth repeat of a word says less than the first), smoothed IDF,
rows of unit length. A word must occur in :data:`MIN_DF` documents (a word of one document
links no two), and the :data:`MAX_FEATURES` most frequent are kept, which bounds the input
width of the network and the size of the saved vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aekit._validation import is_number

# Documents a word must occur in to be a feature (1 when there are fewer than MIN_DF_FROM).
MIN_DF = 2
MIN_DF_FROM = 10
# The most frequent words kept: 20,000 covers the words of Reuters-sized collections that occur
# twice, and keeps config.json (capped at 1 MiB) well under its limit.
MAX_FEATURES = 20_000
# Significant digits of the saved IDF values; the fit rounds them too, so that a saved and
# reloaded model gives the same features bit for bit.
IDF_DIGITS = 7
# Longest word a saved vocabulary may hold (a hostile config.json is refused on load).
MAX_WORD_CHARS = 200


def read_texts(path: str | Path) -> list[str]:
    """The documents of a UTF-8 text file, one per line (the line's end removed).

    Empty lines are documents too (with no words), so that line ``i`` is document ``i``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "docs.txt"
    >>> _ = f.write_text("oil prices rise\\nwheat exports\\n", encoding="utf-8")
    >>> read_texts(f)
    ['oil prices rise', 'wheat exports']
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path} is not UTF-8 text (byte {exc.start}): one document a line"
        ) from None
    lines = text.splitlines()
    if not lines:
        raise ValueError(f"{path} holds no documents (one document a line)")
    return lines


def _vectorizer(vocabulary: list[str] | None = None, min_df: int = 1) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        sublinear_tf=True,
        min_df=min_df,
        max_features=None if vocabulary is not None else MAX_FEATURES,
        vocabulary=vocabulary,
        dtype=np.float32,
    )


@dataclass(frozen=True)
class TextFeatures:
    """The TF-IDF features of a fitted model: its vocabulary (column order) and IDF values.

    Examples
    --------
    >>> docs = ["oil prices rise", "oil exports fall", "wheat prices fall", "wheat exports"]
    >>> features, X = TextFeatures.fit(docs)
    >>> features.vocabulary
    ('exports', 'fall', 'oil', 'prices', 'rise', 'wheat')
    >>> X.shape, type(X).__name__
    ((4, 6), 'csr_matrix')
    >>> same = TextFeatures.from_json(features.to_json())
    >>> bool((same.transform(docs) != X).nnz == 0)
    True
    """

    vocabulary: tuple[str, ...]  # the words, in the order of the feature columns
    idf: tuple[float, ...]  # each word's inverse document frequency

    @classmethod
    def fit(cls, texts: list[str]) -> tuple[TextFeatures, Any]:
        """Learn the vocabulary and IDF of ``texts``; return them and the texts' features
        (a scipy CSR matrix, float32)."""
        texts = _check_texts(texts)
        min_df = MIN_DF if len(texts) >= MIN_DF_FROM else 1
        vectorizer = _vectorizer(min_df=min_df)
        try:
            vectorizer.fit(texts)
        except ValueError:  # scikit-learn's "empty vocabulary" / "no terms remain"
            raise ValueError(
                f"no word occurs in {min_df} of the {len(texts)} documents: nothing to learn "
                "from (words are runs of two or more letters or digits)"
            ) from None
        words = vectorizer.get_feature_names_out().tolist()
        idf = [float(f"{v:.{IDF_DIGITS}g}") for v in vectorizer.idf_]
        features = cls(tuple(words), tuple(idf))
        return features, features.transform(texts)

    def transform(self, texts: list[str]) -> Any:
        """The features of ``texts``: a scipy CSR matrix (n, len(vocabulary)), float32, each
        row of unit length (a row with no known word is all zeros)."""
        texts = _check_texts(texts)
        vectorizer = _vectorizer(list(self.vocabulary))
        vectorizer.idf_ = np.asarray(self.idf, dtype=np.float64)
        return vectorizer.transform(texts).tocsr()

    def to_json(self) -> dict[str, Any]:
        return {"kind": "tfidf", "vocabulary": list(self.vocabulary), "idf": list(self.idf)}

    @classmethod
    def from_json(cls, data: Any, where: str = "text") -> TextFeatures:
        """The features in ``data`` (from config.json), checked field by field."""

        def bad(message: str) -> ValueError:
            return ValueError(f"{where}: {message}")

        if not isinstance(data, dict) or set(data) != {"kind", "vocabulary", "idf"}:
            raise bad("expected an object with kind, vocabulary and idf")
        if data["kind"] != "tfidf":
            raise bad(f"unknown kind {str(data['kind'])[:40]!r}")
        words, idf = data["vocabulary"], data["idf"]
        if not isinstance(words, list) or not 1 <= len(words) <= MAX_FEATURES:
            raise bad(f"vocabulary must be a list of 1 to {MAX_FEATURES} words")
        if not all(isinstance(w, str) and 0 < len(w) <= MAX_WORD_CHARS for w in words):
            raise bad(f"vocabulary must hold words of 1 to {MAX_WORD_CHARS} characters")
        if len(set(words)) != len(words):
            raise bad("vocabulary repeats a word")
        if not isinstance(idf, list) or len(idf) != len(words):
            raise bad("idf must hold one number per word")
        if not all(is_number(v) for v in idf):
            raise bad("idf must hold numbers")
        values = np.asarray(idf, dtype=np.float64)
        if not (np.isfinite(values).all() and (values >= 1.0).all()):
            raise bad("idf values must be finite and at least 1 (smoothed IDF)")
        return cls(tuple(words), tuple(float(v) for v in idf))


def _check_texts(texts: Any) -> list[str]:
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise ValueError("texts must be a list of strings, one per document")
    texts = list(texts)
    if not texts:
        raise ValueError("no documents given")
    return texts
