"""Which indices PyTorch's CPU ``topk`` picks when values tie, so that pruning masks equal PyTorch's.

PyTorch selects the ``k`` smallest (or largest) of a row with libstdc++'s ``std::partial_sort`` when
``k * 64 <= n`` and with ``std::nth_element`` otherwise, on (value, index) pairs compared by value alone (NaN
counting as the largest value). Among equal values the winners are whatever those algorithms leave in the first
``k`` slots, which is neither the lowest nor the highest index. When the ``k``-th value is not tied across the
cut, every algorithm picks the same set and a NumPy selection is used; otherwise the libstdc++ algorithms are
replayed step by step on the host.
"""

from __future__ import annotations

import numpy as np


def topk_indices(values: np.ndarray, k: int, largest: bool) -> np.ndarray:
    """The indices of the ``k`` values of 1-D ``values`` that ``torch.topk(values, k, largest=largest)`` returns
    on the CPU, as a set (in increasing index order)."""
    n = values.shape[0]
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    if k == n:
        return np.arange(n, dtype=np.int64)
    if not np.isnan(values).any():
        keys = -values if largest else values
        kth = np.partition(keys, k - 1)[k - 1]
        below = keys < kth
        tied = keys == kth
        if int(below.sum()) + int(tied.sum()) == k:  # no tie straddles the cut: the set is unambiguous
            return np.flatnonzero(below | tied).astype(np.int64)
    return np.sort(np.asarray(_libstdcxx_first_k(values.tolist(), k, largest), dtype=np.int64))


def _libstdcxx_first_k(values: list, k: int, largest: bool) -> list:
    """The indices in the first ``k`` slots after PyTorch's ``topk_impl_loop`` ran its libstdc++ selection."""
    if largest:
        def less(x, y):  # "x comes before y": NaN first, then larger values
            return (x != x and y == y) or x > y
    else:
        def less(x, y):
            return (x == x and y != y) or x < y

    items = [(v, i) for i, v in enumerate(values)]
    if k * 64 <= len(items):
        _heap_select(items, 0, k, len(items), less)
    else:
        _introselect(items, 0, k - 1, len(items), 2 * (len(items).bit_length() - 1), less)
    return [i for _, i in items[:k]]


def _introselect(a, first, nth, last, depth_limit, less) -> None:
    while last - first > 3:
        if depth_limit == 0:
            _heap_select(a, first, nth + 1, last, less)
            a[first], a[nth] = a[nth], a[first]
            return
        depth_limit -= 1
        cut = _partition_pivot(a, first, last, less)
        if cut <= nth:
            first = cut
        else:
            last = cut
    _insertion_sort(a, first, last, less)


def _partition_pivot(a, first, last, less) -> int:
    mid = first + (last - first) // 2
    _move_median_to_first(a, first, first + 1, mid, last - 1, less)
    pivot = a[first][0]
    lo, hi = first + 1, last
    while True:
        while less(a[lo][0], pivot):
            lo += 1
        hi -= 1
        while less(pivot, a[hi][0]):
            hi -= 1
        if not lo < hi:
            return lo
        a[lo], a[hi] = a[hi], a[lo]
        lo += 1


def _move_median_to_first(a, result, i, j, m, less) -> None:
    x, y, z = a[i][0], a[j][0], a[m][0]
    if less(x, y):
        pick = j if less(y, z) else (m if less(x, z) else i)
    else:
        pick = i if less(x, z) else (m if less(y, z) else j)
    a[result], a[pick] = a[pick], a[result]


def _insertion_sort(a, first, last, less) -> None:
    for i in range(first + 1, last):
        item = a[i]
        if less(item[0], a[first][0]):
            a[first + 1:i + 1] = a[first:i]
            a[first] = item
            continue
        j = i
        while less(item[0], a[j - 1][0]):
            a[j] = a[j - 1]
            j -= 1
        a[j] = item


def _heap_select(a, first, middle, last, less) -> None:
    length = middle - first
    if length >= 2:
        parent = (length - 2) // 2
        while True:
            _adjust_heap(a, first, parent, length, a[first + parent], less)
            if parent == 0:
                break
            parent -= 1
    for i in range(middle, last):
        if less(a[i][0], a[first][0]):
            item = a[i]
            a[i] = a[first]
            _adjust_heap(a, first, 0, length, item, less)


def _adjust_heap(a, first, hole, length, item, less) -> None:
    top, child = hole, hole
    while child < (length - 1) // 2:
        child = 2 * (child + 1)
        if less(a[first + child][0], a[first + child - 1][0]):
            child -= 1
        a[first + hole] = a[first + child]
        hole = child
    if length % 2 == 0 and child == (length - 2) // 2:
        child = 2 * (child + 1)
        a[first + hole] = a[first + child - 1]
        hole = child - 1
    parent = (hole - 1) // 2
    while hole > top and less(a[first + parent][0], item[0]):
        a[first + hole] = a[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    a[first + hole] = item
