"""String ops: StringNormalizer, StringConcat, StringSplit, RegexFullMatch, TfIdfVectorizer.

String tensors are NumPy object arrays of ``str`` and never leave the host, so these kernels work on
NumPy whatever the session's device; TfIdfVectorizer's numeric output goes back to ``ctx.xp``.
"""

from __future__ import annotations

import operator
import re

import numpy as np

from serving.kernels.registry import kernel
from serving.runtime.device import to_host

_concat = np.frompyfunc(operator.add, 2, 1)


def _strings(x) -> np.ndarray:
    x = to_host(x)
    if x.dtype != object and x.dtype.kind != "U":
        raise ValueError(f"expected a string tensor, got dtype {x.dtype}")
    return x.astype(object)


def _object_array(values, shape) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out.reshape(shape)


@kernel("StringNormalizer", since=10)
def StringNormalizer(ctx, x, *, case_change_action="NONE", is_case_sensitive=0, locale=None, stopwords=None):
    # Python's str.lower/upper apply Unicode's locale-independent case mapping, so `locale` changes nothing.
    x = _strings(x)
    if x.ndim not in (1, 2) or (x.ndim == 2 and x.shape[0] != 1):
        raise ValueError(f"StringNormalizer accepts a [C] or [1, C] tensor, got shape {x.shape}")
    change = {"NONE": lambda s: s, "LOWER": str.lower, "UPPER": str.upper}.get(case_change_action)
    if change is None:
        raise ValueError(f"case_change_action must be NONE, LOWER or UPPER, got {case_change_action!r}")
    words = x.reshape(-1).tolist()
    if stopwords:
        if is_case_sensitive:
            stops = set(stopwords)
            words = [w for w in words if w not in stops]
        else:
            stops = {s.lower() for s in stopwords}
            words = [w for w in words if w.lower() not in stops]
    # All words dropped: ONNX returns one empty string rather than an empty tensor.
    words = [change(w) for w in words] or [""]
    return _object_array(words, (len(words),) if x.ndim == 1 else (1, len(words)))


@kernel("StringConcat", since=20)
def StringConcat(ctx, x, y):
    return np.asarray(_concat(_strings(x), _strings(y)), dtype=object)


@kernel("StringSplit", since=20)
def StringSplit(ctx, x, *, delimiter=None, maxsplit=None):
    x = _strings(x)
    # No delimiter (or ""): split on runs of whitespace and drop leading/trailing whitespace, as str.split() does.
    separator = delimiter or None
    limit = -1 if maxsplit is None else maxsplit
    parts = [s.split(separator, limit) for s in x.reshape(-1).tolist()]
    counts = np.array([len(p) for p in parts], dtype=np.int64).reshape(x.shape)
    width = int(counts.max(initial=0))
    padded = [p + [""] * (width - len(p)) for p in parts]
    y = np.empty((len(parts), width), dtype=object)
    if parts:
        y[:] = padded
    return y.reshape(*x.shape, width), counts


@kernel("RegexFullMatch", since=20)
def RegexFullMatch(ctx, x, *, pattern=None):
    if pattern is None:
        raise ValueError("RegexFullMatch needs its pattern attribute")
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"RegexFullMatch pattern {pattern!r} is not a valid regular expression: {exc}") from exc
    x = _strings(x)
    matches = [regex.fullmatch(s) is not None for s in x.reshape(-1).tolist()]
    return np.array(matches, dtype=bool).reshape(x.shape)


def _pool_grams(pool, ngram_counts):
    """The pool's n-grams grouped by size: ``{n: (grams (P, n) as pool positions, ids (P,))}``.

    An n-gram's id is its rank in the whole pool (all sizes), which is what ``ngram_indexes`` is indexed by.
    """
    grams, next_id = {}, 0
    for i, start in enumerate(ngram_counts):
        n = i + 1
        end = ngram_counts[i + 1] if i + 1 < len(ngram_counts) else len(pool)
        count = (end - start) // n
        if count > 0:
            positions = start + np.arange(count * n).reshape(count, n)
            grams[n] = (positions, next_id + np.arange(count))
        next_id += count
    return grams


def _token_codes(x, pool):
    """Input tokens and pool entries as codes into the pool's sorted vocabulary; tokens outside it are -1."""
    vocabulary, pool_codes = np.unique(pool, return_inverse=True)
    position = np.clip(np.searchsorted(vocabulary, x), 0, len(vocabulary) - 1)
    return np.where(vocabulary[position] == x, position, -1), pool_codes


@kernel("TfIdfVectorizer", since=9)
def TfIdfVectorizer(ctx, x, *, max_gram_length, max_skip_count, min_gram_length, mode, ngram_counts, ngram_indexes,
                    pool_int64s=None, pool_strings=None, weights=None):
    if (pool_int64s is None) == (pool_strings is None):
        raise ValueError("TfIdfVectorizer needs exactly one of pool_int64s and pool_strings")
    if mode not in ("TF", "IDF", "TFIDF"):
        raise ValueError(f"TfIdfVectorizer mode must be TF, IDF or TFIDF, got {mode!r}")
    x = to_host(x)
    if x.ndim not in (1, 2):
        raise ValueError(f"TfIdfVectorizer accepts a [C] or [N, C] tensor, got shape {x.shape}")
    pool = _object_array(pool_strings, (len(pool_strings),)) if pool_strings is not None else np.array(pool_int64s)
    if pool_strings is not None:
        x = _strings(x)
    rows = x.reshape(1, -1) if x.ndim == 1 else x
    codes, pool_codes = _token_codes(rows, pool)
    columns = np.asarray(ngram_indexes, dtype=np.int64)
    counts = np.zeros((rows.shape[0], int(columns.max()) + 1), dtype=np.int64)
    length = rows.shape[1]
    for n, (positions, ids) in _pool_grams(pool, ngram_counts).items():
        if not min_gram_length <= n <= max_gram_length:
            continue
        grams = pool_codes[positions]
        # Unigrams do not depend on the skip, so they are counted once.
        for distance in range(1, (max_skip_count if n > 1 else 0) + 2):
            span = (n - 1) * distance + 1
            if span > length:
                break
            starts = length - span + 1
            windows = np.stack([codes[:, k * distance:k * distance + starts] for k in range(n)], axis=-1)
            # Number every distinct n-gram (pool's and windows'), then map window numbers to pool ids.
            unique, inverse = np.unique(np.concatenate([grams, windows.reshape(-1, n)]), axis=0, return_inverse=True)
            pool_id = np.full(len(unique), -1, dtype=np.int64)
            pool_id[inverse[: len(grams)]] = ids
            window_id = pool_id[inverse[len(grams):]].reshape(rows.shape[0], starts)
            row, start = np.nonzero(window_id >= 0)
            np.add.at(counts, (row, columns[window_id[row, start]]), 1)
    scores = counts.astype(np.float32)
    if mode == "IDF":
        scores = (counts > 0).astype(np.float32)
    if mode != "TF" and weights:
        if len(weights) != scores.shape[1]:
            raise ValueError(f"TfIdfVectorizer has {len(weights)} weights but {scores.shape[1]} output columns")
        scores *= np.asarray(weights, dtype=np.float32)
    return ctx.xp.asarray(scores.reshape(-1) if x.ndim == 1 else scores)
