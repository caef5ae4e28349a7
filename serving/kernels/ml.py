"""The ``ai.onnx.ml`` domain: the classic-ML ops that scikit-learn converters emit.

Numeric ops run on ``ctx.xp``. Tree ensembles are flattened once per call into node tables and every
sample walks every tree together, one vectorised step per tree level. Lookups keyed by strings
(LabelEncoder, CategoryMapper, OneHotEncoder on strings) and ZipMap's dictionaries live on the host.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from serving.kernels.registry import ML_DOMAIN, kernel
from serving.runtime.device import to_host


def _ml_kernel(op_type, since=1):
    return kernel(op_type, since=since, domain=ML_DOMAIN)


def _as_2d(x):
    return x.reshape(1, -1) if x.ndim == 1 else x


def _features(x, dtype=np.float32):
    """A float ``(N, F)`` view of ``x``: float64 stays float64, everything else becomes ``dtype``."""
    x = _as_2d(x)
    return x if x.dtype == np.float64 else x.astype(dtype)


# ---------------------------------------------------------------------------------------------------
# Score post-transforms (shared by the linear and tree models).

def _probit(xp, p):
    """sqrt(2) * erfinv(2p - 1) by Winitzki's approximation of erfinv, as ONNX Runtime computes it."""
    y = 2 * p - 1
    sign = xp.where(y < 0, -1.0, 1.0)
    log = xp.log((1 - y) * (1 + y))
    v = 2 / (math.pi * 0.147) + 0.5 * log
    return math.sqrt(2) * sign * xp.sqrt(-v + xp.sqrt(v * v - log / 0.147))


def _softmax_zero(xp, scores):
    """Softmax over the non-zero scores of each row; zeros stay (nearly) zero, an all-zero row becomes 0.5."""
    top = scores.max(axis=1, keepdims=True)
    nonzero = xp.abs(scores) > 1e-7
    e = xp.where(nonzero, xp.exp(scores - top), scores * xp.exp(-top))
    total = e.sum(axis=1, keepdims=True)
    return xp.where(total == 0, 0.5, e / xp.where(total == 0, 1, total))


def _post_transform(xp, scores, name):
    if name == "NONE":
        return scores
    if name == "LOGISTIC":
        return 1 / (1 + xp.exp(-scores))
    if name == "SOFTMAX":
        e = xp.exp(scores - scores.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    if name == "SOFTMAX_ZERO":
        return _softmax_zero(xp, scores)
    if name == "PROBIT":
        return _probit(xp, scores)
    raise ValueError(f"unknown post_transform {name!r}: expected NONE, LOGISTIC, SOFTMAX, SOFTMAX_ZERO or PROBIT")


# TreeEnsemble (opset 5) numbers its post-transforms.
_POST_TRANSFORMS = ("NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO", "PROBIT")


def _class_labels(xp, scores, labels_int64s, labels_strings):
    """The label of each row's best score, as int64 or strings (host)."""
    best = to_host(scores.argmax(axis=1))
    if labels_strings is not None:
        return np.asarray(labels_strings, dtype=object)[best]
    return xp.asarray(np.asarray(labels_int64s, dtype=np.int64)[best])


# ---------------------------------------------------------------------------------------------------
# Element-wise and table ops.

@_ml_kernel("ArrayFeatureExtractor")
def ArrayFeatureExtractor(ctx, x, y):
    """The columns ``y`` of the last axis of ``x`` (a 1-D ``x`` is one row), as ONNX Runtime selects them."""
    index = to_host(y).reshape(-1).astype(np.int64)
    last = x.shape[-1]
    if index.size and (index.min() < 0 or index.max() >= last):
        raise ValueError(f"ArrayFeatureExtractor indices {index.tolist()} are out of range for a last axis of {last}")
    xp = np if x.dtype == object else ctx.xp
    picked = x[..., xp.asarray(index)]
    return picked.reshape(1, -1) if x.ndim == 1 else picked


@_ml_kernel("Binarizer")
def Binarizer(ctx, x, *, threshold=0.0):
    return (x > threshold).astype(x.dtype)


@_ml_kernel("Scaler")
def Scaler(ctx, x, *, offset=None, scale=None):
    xp = ctx.xp
    x = _features(x)
    offset = xp.asarray(offset if offset is not None else [0.0], dtype=x.dtype)
    scale = xp.asarray(scale if scale is not None else [1.0], dtype=x.dtype)
    return ((x - offset) * scale).astype(np.float32)


@_ml_kernel("Normalizer")
def Normalizer(ctx, x, *, norm="MAX"):
    xp = ctx.xp
    x = _features(x)
    if norm == "MAX":
        # The row's largest value, not its largest magnitude (the spec's max(X), as ONNX Runtime computes it).
        divisor = x.max(axis=1, keepdims=True)
    elif norm == "L1":
        divisor = xp.abs(x).sum(axis=1, keepdims=True)
    elif norm == "L2":
        divisor = xp.sqrt((x * x).sum(axis=1, keepdims=True))
    else:
        raise ValueError(f"Normalizer norm must be MAX, L1 or L2, got {norm!r}")
    # A zero divisor leaves the row as it is.
    return (x / xp.where(divisor == 0, 1, divisor)).astype(np.float32)


@_ml_kernel("Imputer")
def Imputer(ctx, x, *, imputed_value_floats=None, imputed_value_int64s=None, replaced_value_float=0.0,
            replaced_value_int64=0):
    xp = ctx.xp
    if imputed_value_floats:
        values, replaced = imputed_value_floats, replaced_value_float
    elif imputed_value_int64s:
        values, replaced = imputed_value_int64s, replaced_value_int64
    else:
        raise ValueError("Imputer needs imputed_value_floats or imputed_value_int64s")
    if len(values) not in (1, x.shape[-1]):
        raise ValueError(f"Imputer has {len(values)} imputed values for {x.shape[-1]} features; expected 1 or all")
    fill = xp.asarray(values, dtype=x.dtype)
    missing = xp.isnan(x) if isinstance(replaced, float) and math.isnan(replaced) else x == replaced
    return xp.where(missing, fill, x)


def _lookup(x, keys, values, default):
    """``values[i]`` where ``x == keys[i]`` (NaN matches NaN, a repeated key's last entry wins), ``default``
    elsewhere; NumPy, any key type."""
    keys, values = np.asarray(keys), np.asarray(values)
    if keys.size == 0:
        return np.full(x.shape, default, dtype=values.dtype)
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    position = np.clip(np.searchsorted(keys, x, side="right") - 1, 0, len(keys) - 1)
    found = keys[position] == x
    if keys.dtype.kind == "f":
        found |= np.isnan(keys[position]) & np.isnan(x)
    return np.where(found, values[position], np.asarray(default, dtype=values.dtype))


def _strings_array(values):
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def _default_for(values, default_float, default_int64, default_string):
    if values.dtype == object:
        return default_string
    return default_float if values.dtype.kind == "f" else default_int64


@_ml_kernel("LabelEncoder")
def LabelEncoder(ctx, x, *, classes_strings=None, default_float=-0.0, default_int64=-1, default_string="_Unused",
                 default_tensor=None, keys_floats=None, keys_int64s=None, keys_strings=None, keys_tensor=None,
                 values_floats=None, values_int64s=None, values_strings=None, values_tensor=None):
    x = to_host(x)
    if classes_strings is not None:
        # Opset 1: strings map to their index in classes_strings and integers back to the string.
        classes = _strings_array(classes_strings)
        if x.dtype == object:
            return ctx.xp.asarray(_lookup(x, classes, np.arange(len(classes), dtype=np.int64), default_int64))
        return _lookup(x, np.arange(len(classes), dtype=np.int64), classes, default_string)
    keys = next((k for k in (keys_tensor, keys_floats, keys_int64s) if k is not None), None)
    keys = _strings_array(keys_strings) if keys is None and keys_strings is not None else keys
    values = next((v for v in (values_tensor, values_floats, values_int64s) if v is not None), None)
    values = _strings_array(values_strings) if values is None and values_strings is not None else values
    if keys is None or values is None:
        raise ValueError("LabelEncoder needs one keys_* and one values_* attribute")
    keys = np.asarray(keys, dtype=np.float32) if keys is keys_floats else np.asarray(keys)
    values = np.asarray(values, dtype=np.float32) if values is values_floats else np.asarray(values)
    if len(keys) != len(values):
        raise ValueError(f"LabelEncoder has {len(keys)} keys but {len(values)} values")
    if default_tensor is not None:
        default = np.asarray(default_tensor).reshape(-1)[0]
    else:
        default = _default_for(values, default_float, default_int64, default_string)
    y = _lookup(x, keys, values, default)
    return y if y.dtype == object else ctx.xp.asarray(y)


@_ml_kernel("CategoryMapper")
def CategoryMapper(ctx, x, *, cats_int64s=None, cats_strings=None, default_int64=-1, default_string="_Unused"):
    if cats_int64s is None or cats_strings is None or len(cats_int64s) != len(cats_strings):
        raise ValueError("CategoryMapper needs cats_int64s and cats_strings of the same length")
    x = to_host(x)
    ints, strings = np.asarray(cats_int64s, dtype=np.int64), _strings_array(cats_strings)
    if x.dtype == object:
        return ctx.xp.asarray(_lookup(x, strings, ints, default_int64))
    return _lookup(x, ints, strings, default_string)


@_ml_kernel("OneHotEncoder")
def OneHotEncoder(ctx, x, *, cats_int64s=None, cats_strings=None, zeros=1):
    x = to_host(x)
    if cats_strings:
        categories = _strings_array(cats_strings)
    elif cats_int64s:
        # Floats are truncated to integer categories, as ONNX Runtime does.
        x = x.astype(np.int64)
        categories = np.asarray(cats_int64s, dtype=np.int64)
    else:
        raise ValueError("OneHotEncoder needs cats_int64s or cats_strings")
    index = _lookup(x, categories, np.arange(len(categories), dtype=np.int64), -1)
    if not zeros and (index < 0).any():
        raise ValueError("OneHotEncoder got a value outside its categories and zeros=0 forbids an all-zero row")
    xp = ctx.xp
    return (xp.asarray(index)[..., None] == xp.arange(len(categories))).astype(np.float32)


@_ml_kernel("FeatureVectorizer")
def FeatureVectorizer(ctx, *inputs, inputdimensions=None):
    xp = ctx.xp
    if inputdimensions is None or len(inputdimensions) != len(inputs):
        raise ValueError(f"FeatureVectorizer has {len(inputs)} inputs but inputdimensions {inputdimensions}")
    columns = []
    for x, width in zip(inputs, inputdimensions, strict=True):
        x = x.reshape(x.shape[0], -1) if x.ndim > 1 else x.reshape(-1, 1)
        # Each input is cut or zero-padded to its declared width.
        x = x[:, :width].astype(np.float32)
        if x.shape[1] < width:
            x = xp.pad(x, ((0, 0), (0, width - x.shape[1])))
        columns.append(x)
    return xp.concatenate(columns, axis=1)


@_ml_kernel("ZipMap")
def ZipMap(ctx, x, *, classlabels_int64s=None, classlabels_strings=None):
    """One ``{label: score}`` dict per row: an ONNX sequence of maps, a Python list of dicts."""
    labels = classlabels_strings if classlabels_strings is not None else classlabels_int64s
    if labels is None:
        raise ValueError("ZipMap needs classlabels_int64s or classlabels_strings")
    rows = _as_2d(to_host(x))
    if rows.shape[1] != len(labels):
        raise ValueError(f"ZipMap has {len(labels)} labels but its input has {rows.shape[1]} columns")
    return [dict(zip(labels, row, strict=True)) for row in rows.tolist()]


# ---------------------------------------------------------------------------------------------------
# Linear models.

@_ml_kernel("LinearRegressor")
def LinearRegressor(ctx, x, *, coefficients=None, intercepts=None, post_transform="NONE", targets=1):
    xp = ctx.xp
    x = _features(x)
    weights = xp.asarray(coefficients, dtype=x.dtype).reshape(targets, -1)
    if weights.shape[1] != x.shape[1]:
        raise ValueError(f"LinearRegressor has {weights.shape[1]} coefficients per target for {x.shape[1]} features")
    scores = x @ weights.T
    if intercepts is not None:
        scores = scores + xp.asarray(intercepts, dtype=x.dtype)
    return _post_transform(xp, scores, post_transform).astype(np.float32)


@_ml_kernel("LinearClassifier")
def LinearClassifier(ctx, x, *, coefficients, classlabels_ints=None, classlabels_strings=None, intercepts=None,
                     multi_class=0, post_transform="NONE"):
    xp = ctx.xp
    x = _features(x)
    weights = xp.asarray(coefficients, dtype=x.dtype).reshape(-1, x.shape[1])
    scores = x @ weights.T
    if intercepts is not None:
        scores = scores + xp.asarray(intercepts, dtype=x.dtype)
    n_classes = len(classlabels_strings if classlabels_strings is not None else classlabels_ints or [])
    if scores.shape[1] == 1 and n_classes == 2:
        # One decision value d for two classes (ONNX Runtime's convention): the second class wins when d > 0,
        # and the scores are [1 - p, p] with p = d through LOGISTIC/PROBIT (the softmaxes leave d as it is).
        decision = scores
        if post_transform in ("LOGISTIC", "PROBIT"):
            scores = _post_transform(xp, scores, post_transform)
        scores = xp.concatenate([1 - scores, scores], axis=1).astype(np.float32)
        best = to_host(decision[:, 0] > 0).astype(np.int64)
        labels = classlabels_strings if classlabels_strings is not None else classlabels_ints
        chosen = np.asarray(labels, dtype=object if classlabels_strings is not None else np.int64)[best]
        return (chosen if classlabels_strings is not None else xp.asarray(chosen)), scores
    scores = _post_transform(xp, scores, post_transform).astype(np.float32)
    if scores.shape[1] > 1:
        return _class_labels(xp, scores, classlabels_ints, classlabels_strings), scores
    positive = to_host(scores[:, 0] >= (0 if post_transform == "NONE" else 0.5))
    if classlabels_strings is not None:
        labels = np.where(positive, classlabels_strings[0], "").astype(object)
    else:
        labels = xp.asarray(np.where(positive, classlabels_ints[0] if classlabels_ints else 1, 0).astype(np.int64))
    return labels, scores


# ---------------------------------------------------------------------------------------------------
# Tree ensembles.

# Node comparison codes (TreeEnsemble's numbering); _LEAF marks a leaf in the flattened table.
_LEQ, _LT, _GTE, _GT, _EQ, _NEQ, _MEMBER, _LEAF = range(8)
_BRANCH_MODES = {"BRANCH_LEQ": _LEQ, "BRANCH_LT": _LT, "BRANCH_GTE": _GTE, "BRANCH_GT": _GT, "BRANCH_EQ": _EQ,
                 "BRANCH_NEQ": _NEQ, "LEAF": _LEAF}


class _Forest:
    """Trees as flat node tables; leaves carry a row of ``leaf_values`` with their contribution per target,
    and ``leaf_touched`` says which targets a leaf contributes to at all.

    ``members`` holds, for MEMBER nodes, their set padded with NaN (``None`` when no node tests membership).
    """

    def __init__(self, *, feature, threshold, mode, true_child, false_child, missing_true, leaf_values, leaf_touched,
                 roots, members=None):
        self.feature = feature
        self.threshold = threshold
        self.mode = mode
        self.true_child = true_child
        self.false_child = false_child
        self.missing_true = missing_true
        self.leaf_values = leaf_values
        self.leaf_touched = leaf_touched
        self.roots = roots
        self.members = members

    def leaves(self, xp, x):
        """The leaf each sample reaches in each tree: ``(N, trees)`` indices into the node table."""
        table = {name: xp.asarray(getattr(self, name)) for name in
                 ("feature", "threshold", "mode", "true_child", "false_child", "missing_true")}
        members = xp.asarray(self.members) if self.members is not None else None
        is_leaf = table["mode"] == _LEAF
        rows = xp.arange(x.shape[0])[:, None]
        node = xp.broadcast_to(xp.asarray(self.roots)[None, :], (x.shape[0], len(self.roots)))
        for _ in range(len(self.mode) + 1):
            active = ~is_leaf[node]
            if not bool(active.any()):
                return node
            value = x[rows, table["feature"][node]]
            split, mode = table["threshold"][node], table["mode"][node]
            go_true = xp.select(
                [mode == _LEQ, mode == _LT, mode == _GTE, mode == _GT, mode == _EQ, mode == _NEQ],
                [value <= split, value < split, value >= split, value > split, value == split, value != split],
                default=False,
            )
            if members is not None:
                inside = (value[..., None] == members[node]).any(axis=-1)
                go_true = xp.where(mode == _MEMBER, inside, go_true)
            # NaN fails every comparison but NEQ; missing_value_tracks_true sends it to the true branch as well.
            go_true |= xp.isnan(value) & table["missing_true"][node]
            step = xp.where(go_true, table["true_child"][node], table["false_child"][node])
            node = xp.where(active, step, node)
        raise ValueError("the tree ensemble has a cycle: a path is longer than the number of nodes")

    def aggregate(self, xp, x, aggregate_function):
        """Per-sample totals over the trees, ``(N, targets)`` float64, and whether any reached leaf had each target.

        A target no reached leaf contributes to totals 0 whatever the aggregate, as ONNX Runtime reports it.
        """
        reducers = {"SUM": (xp.add, xp.sum, 0.0), "AVERAGE": (xp.add, xp.sum, 0.0),
                    "MIN": (xp.minimum, xp.min, np.inf), "MAX": (xp.maximum, xp.max, -np.inf)}
        if aggregate_function not in reducers:
            raise ValueError(f"aggregate_function must be SUM, AVERAGE, MIN or MAX, got {aggregate_function!r}")
        combine, reduce, identity = reducers[aggregate_function]
        leaves = self.leaves(xp, x)
        values, touched = xp.asarray(self.leaf_values), xp.asarray(self.leaf_touched)
        n, trees = leaves.shape
        total = xp.full((n, values.shape[1]), identity)
        reached = xp.zeros(total.shape, dtype=bool)
        # Gather the leaves' values a slab of trees at a time to bound the (N, trees, targets) temporary.
        slab = max(1, (1 << 22) // max(1, n * values.shape[1]))
        for start in range(0, trees, slab):
            picked = leaves[:, start:start + slab]
            total = combine(total, reduce(values[picked], axis=1))
            reached |= touched[picked].any(axis=1)
        if aggregate_function == "AVERAGE":
            total = total / max(trees, 1)
        return xp.where(reached, total, 0.0), reached


def _leaf_table(aggregate_function, n_nodes, n_targets, nodes, targets, weights):
    """Each node's contribution per target (the aggregate's identity where it has none) and where it has one."""
    targets = np.asarray(targets, dtype=np.int64)
    if np.any((targets < 0) | (targets >= n_targets)):
        raise ValueError(f"a leaf targets {targets.tolist()} outside 0..{n_targets - 1}")
    identity = {"MIN": np.inf, "MAX": -np.inf}.get(aggregate_function, 0.0)
    values = np.full((n_nodes, n_targets), identity, dtype=np.float64)
    {"MIN": np.minimum, "MAX": np.maximum}.get(aggregate_function, np.add).at(values, (nodes, targets), weights)
    touched = np.zeros((n_nodes, n_targets), dtype=bool)
    touched[nodes, targets] = True
    return values, touched


def _tensor_or_list(tensor, values, dtype=np.float64):
    return np.asarray(tensor if tensor is not None else values if values is not None else [], dtype=dtype)


class _LegacyNodes(NamedTuple):
    """TreeEnsembleRegressor/Classifier's ``nodes_*`` attributes, which key nodes by (tree id, node id)."""

    treeids: list
    nodeids: list
    modes: list
    featureids: list
    values: np.ndarray
    truenodeids: list
    falsenodeids: list
    missing_value_tracks_true: list | None


def _legacy_forest(nodes, leaf_treeids, leaf_nodeids, leaf_targets, leaf_weights, n_targets, aggregate_function):
    tree_ids = np.asarray(nodes.treeids, dtype=np.int64)
    node_ids = np.asarray(nodes.nodeids, dtype=np.int64)
    n = len(tree_ids)
    try:
        mode = np.array([_BRANCH_MODES[m] for m in nodes.modes], dtype=np.int64)
    except KeyError as exc:
        raise ValueError(f"unknown tree node mode {exc.args[0]!r}: expected one of {sorted(_BRANCH_MODES)}") from None
    if n == 0 or not len(node_ids) == len(mode) == len(nodes.values) == len(nodes.featureids) == n:
        raise ValueError("the tree ensemble's nodes_* attributes are empty or have different lengths")
    width = int(node_ids.max()) + 1
    order = np.argsort(tree_ids * width + node_ids, kind="stable")
    sorted_keys = (tree_ids * width + node_ids)[order]

    def index_of(trees, ids):
        wanted = np.asarray(trees, dtype=np.int64) * width + np.asarray(ids, dtype=np.int64)
        position = np.clip(np.searchsorted(sorted_keys, wanted), 0, n - 1)
        if np.any(sorted_keys[position] != wanted):
            raise ValueError("the tree ensemble refers to a (tree id, node id) that has no node")
        return order[position]

    branch = mode != _LEAF
    true_child, false_child = np.arange(n), np.arange(n)
    true_child[branch] = index_of(tree_ids[branch], np.asarray(nodes.truenodeids)[branch])
    false_child[branch] = index_of(tree_ids[branch], np.asarray(nodes.falsenodeids)[branch])
    values, touched = _leaf_table(aggregate_function, n, n_targets, index_of(leaf_treeids, leaf_nodeids),
                                  leaf_targets, leaf_weights)
    missing = nodes.missing_value_tracks_true
    # Each tree's root is its first node.
    _, roots = np.unique(tree_ids, return_index=True)
    return _Forest(
        feature=np.asarray(nodes.featureids, dtype=np.int64), threshold=nodes.values, mode=mode,
        true_child=true_child, false_child=false_child,
        missing_true=np.asarray(missing, dtype=bool) if missing else np.zeros(n, dtype=bool),
        leaf_values=values, leaf_touched=touched, roots=roots,
    )


def _check_features(x, forest):
    if forest.feature.size and int(forest.feature.max()) >= x.shape[1]:
        raise ValueError(f"the trees test feature {int(forest.feature.max())} but the input has {x.shape[1]} features")


def _with_base(xp, scores, base_values, base_values_as_tensor):
    base = _tensor_or_list(base_values_as_tensor, base_values)
    return scores + xp.asarray(base) if base.size else scores


@_ml_kernel("TreeEnsembleRegressor")
def TreeEnsembleRegressor(ctx, x, *, aggregate_function="SUM", base_values=None, base_values_as_tensor=None,
                          n_targets=None, nodes_falsenodeids=None, nodes_featureids=None, nodes_hitrates=None,
                          nodes_hitrates_as_tensor=None, nodes_missing_value_tracks_true=None, nodes_modes=None,
                          nodes_nodeids=None, nodes_treeids=None, nodes_truenodeids=None, nodes_values=None,
                          nodes_values_as_tensor=None, post_transform="NONE", target_ids=None, target_nodeids=None,
                          target_treeids=None, target_weights=None, target_weights_as_tensor=None):
    xp = ctx.xp
    nodes = _LegacyNodes(nodes_treeids, nodes_nodeids, nodes_modes, nodes_featureids,
                         _tensor_or_list(nodes_values_as_tensor, nodes_values), nodes_truenodeids,
                         nodes_falsenodeids, nodes_missing_value_tracks_true)
    forest = _legacy_forest(nodes, target_treeids, target_nodeids, target_ids,
                            _tensor_or_list(target_weights_as_tensor, target_weights), n_targets or 1,
                            aggregate_function)
    x = _features(x)
    _check_features(x, forest)
    total, reached = forest.aggregate(xp, x, aggregate_function)
    scores = xp.where(reached, _with_base(xp, total, base_values, base_values_as_tensor), 0.0)
    return _post_transform(xp, scores, post_transform).astype(np.float32)


@_ml_kernel("TreeEnsembleClassifier")
def TreeEnsembleClassifier(ctx, x, *, base_values=None, base_values_as_tensor=None, class_ids=None,
                           class_nodeids=None, class_treeids=None, class_weights=None, class_weights_as_tensor=None,
                           classlabels_int64s=None, classlabels_strings=None, nodes_falsenodeids=None,
                           nodes_featureids=None, nodes_hitrates=None, nodes_hitrates_as_tensor=None,
                           nodes_missing_value_tracks_true=None, nodes_modes=None, nodes_nodeids=None,
                           nodes_treeids=None, nodes_truenodeids=None, nodes_values=None, nodes_values_as_tensor=None,
                           post_transform="NONE"):
    xp = ctx.xp
    labels = classlabels_strings if classlabels_strings is not None else classlabels_int64s
    if not labels:
        raise ValueError("TreeEnsembleClassifier needs classlabels_int64s or classlabels_strings")
    nodes = _LegacyNodes(nodes_treeids, nodes_nodeids, nodes_modes, nodes_featureids,
                         _tensor_or_list(nodes_values_as_tensor, nodes_values), nodes_truenodeids,
                         nodes_falsenodeids, nodes_missing_value_tracks_true)
    forest = _legacy_forest(nodes, class_treeids, class_nodeids, class_ids,
                            _tensor_or_list(class_weights_as_tensor, class_weights), len(labels), "SUM")
    x = _features(x)
    _check_features(x, forest)
    total, _ = forest.aggregate(xp, x, "SUM")
    scores = _with_base(xp, total, base_values, base_values_as_tensor)
    present = set(np.asarray(class_ids).tolist())
    if len(present) == 1:
        # Binary case: only one class carries weights, so its score v makes the other's 1 - v (or -v).
        v = scores[:, next(iter(present))]
        scores = xp.stack([1 - v if post_transform in ("NONE", "PROBIT") else -v, v], axis=1)
        if len(labels) == 1:
            if classlabels_strings is not None:
                raise ValueError("a binary TreeEnsembleClassifier with one string label cannot name the other class")
            labels = [0, labels[0]]
    scores = _post_transform(xp, scores, post_transform).astype(np.float32)
    if classlabels_strings is not None:
        return _class_labels(xp, scores, None, labels), scores
    return _class_labels(xp, scores, labels, None), scores


_AGGREGATES = ("AVERAGE", "SUM", "MIN", "MAX")


@_ml_kernel("TreeEnsemble", since=5)
def TreeEnsemble(ctx, x, *, leaf_targetids, leaf_weights, nodes_falseleafs, nodes_falsenodeids, nodes_featureids,
                 nodes_modes, nodes_splits, nodes_trueleafs, nodes_truenodeids, tree_roots, aggregate_function=1,
                 membership_values=None, n_targets=None, nodes_hitrates=None, nodes_missing_value_tracks_true=None,
                 post_transform=0):
    xp = ctx.xp
    n_inner, n_leaves = len(nodes_featureids), len(leaf_targetids)
    mode = np.asarray(to_host(nodes_modes), dtype=np.int64).reshape(-1)
    # Leaves follow the interior nodes in one table; a child flagged as a leaf indexes the leaves.
    true_child = np.asarray(nodes_truenodeids, dtype=np.int64) + n_inner * np.asarray(nodes_trueleafs, dtype=bool)
    false_child = np.asarray(nodes_falsenodeids, dtype=np.int64) + n_inner * np.asarray(nodes_falseleafs, dtype=bool)
    aggregate = _AGGREGATES[aggregate_function]
    values, touched = _leaf_table(aggregate, n_inner + n_leaves, n_targets or 1, n_inner + np.arange(n_leaves),
                                  leaf_targetids, np.asarray(to_host(leaf_weights), dtype=np.float64).reshape(-1))
    forest = _Forest(
        feature=np.concatenate([np.asarray(nodes_featureids, dtype=np.int64), np.zeros(n_leaves, dtype=np.int64)]),
        threshold=np.concatenate([np.asarray(to_host(nodes_splits), dtype=np.float64).reshape(-1),
                                  np.zeros(n_leaves)]),
        mode=np.concatenate([mode, np.full(n_leaves, _LEAF)]),
        true_child=np.concatenate([true_child, n_inner + np.arange(n_leaves)]),
        false_child=np.concatenate([false_child, n_inner + np.arange(n_leaves)]),
        missing_true=np.concatenate([
            np.asarray(nodes_missing_value_tracks_true, dtype=bool) if nodes_missing_value_tracks_true
            else np.zeros(n_inner, dtype=bool),
            np.zeros(n_leaves, dtype=bool),
        ]),
        leaf_values=values, leaf_touched=touched, roots=np.asarray(tree_roots, dtype=np.int64),
        members=_membership_table(mode, membership_values, n_leaves),
    )
    features = _as_2d(x)
    _check_features(features, forest)
    scores, _ = forest.aggregate(xp, features.astype(np.float64), aggregate)
    return _post_transform(xp, scores, _POST_TRANSFORMS[post_transform]).astype(x.dtype)


def _membership_table(mode, membership_values, n_leaves):
    """Each MEMBER node's set as a NaN-padded row (NaN never equals a feature); ``None`` without MEMBER nodes."""
    member_nodes = np.flatnonzero(mode == _MEMBER)
    if member_nodes.size == 0:
        return None
    if membership_values is None:
        raise ValueError("TreeEnsemble has set-membership nodes but no membership_values")
    flat = np.asarray(to_host(membership_values), dtype=np.float64).reshape(-1)
    # The sets are listed in node order, each closed by a NaN.
    ends = np.flatnonzero(np.isnan(flat))
    if len(ends) != member_nodes.size:
        raise ValueError(f"membership_values holds {len(ends)} sets for {member_nodes.size} membership nodes")
    starts = np.concatenate([[0], ends[:-1] + 1])
    sets = [flat[s:e] for s, e in zip(starts, ends, strict=True)]
    table = np.full((len(mode) + n_leaves, max(1, max(len(s) for s in sets))), np.nan)
    for node, members in zip(member_nodes, sets, strict=True):
        table[node, : len(members)] = members
    return table
