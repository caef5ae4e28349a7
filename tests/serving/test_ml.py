"""ai.onnx.ml kernels against ONNX Runtime on what the conformance cases leave out: the legacy tree
ensembles (every branch mode, NaN routing, shuffled node ids, all aggregates, multi-class post-transforms),
the linear models' binary convention, Normalizer, CategoryMapper and ZipMap."""

import numpy as np
import pytest
from onnx import TensorProto, TypeProto, helper

from serving import InferenceSession

ort = pytest.importorskip("onnxruntime")

ML = "ai.onnx.ml"
MODES = ("BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ")


def _run_both(op, feeds, outputs, **attrs):
    node = helper.make_node(op, list(feeds), [out[0] for out in outputs], domain=ML, **attrs)
    inputs = [helper.make_tensor_value_info(k, TensorProto.STRING if v.dtype == object
                                            else helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
              for k, v in feeds.items()]
    # Tensor outputs are (name, type, rank); a sequence output is (name, TypeProto).
    outs = [helper.make_value_info(out[0], out[1]) if isinstance(out[1], TypeProto)
            else helper.make_tensor_value_info(out[0], out[1], [None] * out[2]) for out in outputs]
    model = helper.make_model(helper.make_graph([node], "g", inputs, outs),
                              opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(ML, 3)], ir_version=10)
    expected = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    return expected, InferenceSession(model).run(None, feeds)


def _forest(rng, n_trees, n_features, depth, n_targets):
    """Random full trees in the legacy encoding (node ids shuffled in odd trees) and one weight per leaf and target."""
    nodes = {k: [] for k in ("nodes_treeids", "nodes_nodeids", "nodes_modes", "nodes_featureids", "nodes_values",
                             "nodes_truenodeids", "nodes_falsenodeids", "nodes_missing_value_tracks_true")}
    targets = {k: [] for k in ("treeids", "nodeids", "ids", "weights")}
    for tree in range(n_trees):
        count = 2 ** (depth + 1) - 1
        ids = list(rng.permutation(count) + 3) if tree % 2 else list(range(count))

        def build(position, level, tree=tree, ids=ids):
            leaf = level == depth
            left, right = 2 * position + 1, 2 * position + 2
            row = dict(nodes_treeids=tree, nodes_nodeids=int(ids[position]),
                       nodes_modes="LEAF" if leaf else str(rng.choice(MODES)),
                       nodes_featureids=0 if leaf else int(rng.integers(0, n_features)),
                       nodes_values=0.0 if leaf else float(rng.integers(-2, 3)),
                       nodes_truenodeids=0 if leaf else int(ids[left]),
                       nodes_falsenodeids=0 if leaf else int(ids[right]),
                       nodes_missing_value_tracks_true=int(rng.integers(0, 2)))
            for k, v in row.items():
                nodes[k].append(v)
            if leaf:
                for target in range(n_targets):
                    for k, v in zip(("treeids", "nodeids", "ids", "weights"),
                                    (tree, int(ids[position]), target, float(np.float32(rng.normal())))):
                        targets[k].append(v)
                return
            build(left, level + 1)
            build(right, level + 1)

        build(0, 0)
    return nodes, targets


@pytest.mark.parametrize("aggregate", ["SUM", "AVERAGE", "MIN", "MAX"])
def test_tree_ensemble_regressor_matches_onnxruntime(aggregate):
    rng = np.random.default_rng(1)
    nodes, targets = _forest(rng, n_trees=5, n_features=3, depth=3, n_targets=2)
    # Integer-valued features hit the thresholds exactly, so EQ/NEQ and the <=/< edges are exercised.
    x = rng.integers(-2, 3, (40, 3)).astype(np.float32)
    x[rng.random(x.shape) < 0.15] = np.nan
    expected, actual = _run_both(
        "TreeEnsembleRegressor", {"X": x}, [("Y", TensorProto.FLOAT, 2)], n_targets=2, aggregate_function=aggregate,
        base_values=[0.5, -0.25], target_treeids=targets["treeids"], target_nodeids=targets["nodeids"],
        target_ids=targets["ids"], target_weights=targets["weights"], **nodes)
    np.testing.assert_allclose(actual[0], expected[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("post_transform", ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO"])
@pytest.mark.parametrize("string_labels", [False, True])
def test_tree_ensemble_classifier_matches_onnxruntime(post_transform, string_labels):
    rng = np.random.default_rng(2)
    nodes, targets = _forest(rng, n_trees=4, n_features=3, depth=2, n_targets=3)
    labels = dict(classlabels_strings=["a", "b", "c"]) if string_labels else dict(classlabels_int64s=[4, 7, 9])
    x = rng.integers(-2, 3, (30, 3)).astype(np.float32)
    expected, actual = _run_both(
        "TreeEnsembleClassifier", {"X": x}, [("L", TensorProto.STRING if string_labels else TensorProto.INT64, 1),
                                             ("S", TensorProto.FLOAT, 2)],
        class_treeids=targets["treeids"], class_nodeids=targets["nodeids"], class_ids=targets["ids"],
        class_weights=[abs(w) for w in targets["weights"]], post_transform=post_transform, **labels, **nodes)
    np.testing.assert_allclose(actual[1], expected[1], rtol=1e-5, atol=1e-6)
    assert actual[0].tolist() == expected[0].tolist()


@pytest.mark.parametrize("post_transform", ["NONE", "LOGISTIC", "SOFTMAX"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_linear_classifier_matches_onnxruntime(post_transform, n_classes):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, 4)).astype(np.float32)
    # Two classes get ONNX Runtime's one-decision-value form: scores [1 - p, p].
    rows = 1 if n_classes == 2 else n_classes
    expected, actual = _run_both(
        "LinearClassifier", {"X": x}, [("L", TensorProto.INT64, 1), ("S", TensorProto.FLOAT, 2)],
        coefficients=rng.normal(size=rows * 4).astype(np.float32).tolist(),
        intercepts=rng.normal(size=rows).astype(np.float32).tolist(),
        classlabels_ints=list(range(n_classes)), post_transform=post_transform)
    np.testing.assert_allclose(actual[1], expected[1], rtol=1e-5, atol=1e-6)
    assert actual[0].tolist() == expected[0].tolist()


@pytest.mark.parametrize("norm", ["MAX", "L1", "L2"])
def test_normalizer_matches_onnxruntime(norm):
    x = np.array([[1.0, -2.0, 4.0], [-3.0, -1.0, -2.0], [0.5, 0.25, 0.0]], dtype=np.float32)
    expected, actual = _run_both("Normalizer", {"X": x}, [("Y", TensorProto.FLOAT, 2)], norm=norm)
    np.testing.assert_allclose(actual[0], expected[0], rtol=1e-6)


def test_category_mapper_both_directions():
    words = np.array([["a", "z"], ["c", "b"]], dtype=object)
    expected, actual = _run_both("CategoryMapper", {"X": words}, [("Y", TensorProto.INT64, 2)],
                                 cats_strings=["a", "b", "c"], cats_int64s=[7, 8, 9], default_int64=-5)
    assert actual[0].tolist() == expected[0].tolist() == [[7, -5], [9, 8]]
    ints = np.array([8, 1, 7], dtype=np.int64)
    expected, actual = _run_both("CategoryMapper", {"X": ints}, [("Y", TensorProto.STRING, 1)],
                                 cats_strings=["a", "b", "c"], cats_int64s=[7, 8, 9], default_string="?")
    assert list(actual[0]) == list(expected[0]) == ["b", "?", "a"]


def test_zipmap_gives_one_dict_per_row():
    scores = np.array([[0.25, 0.75], [0.5, 0.5]], dtype=np.float32)
    seq_of_maps = TypeProto()
    seq_of_maps.sequence_type.elem_type.map_type.key_type = TensorProto.INT64
    seq_of_maps.sequence_type.elem_type.map_type.value_type.tensor_type.elem_type = TensorProto.FLOAT
    expected, actual = _run_both("ZipMap", {"X": scores}, [("Z", seq_of_maps)], classlabels_int64s=[3, 5])
    assert actual[0] == expected[0] == [{3: 0.25, 5: 0.75}, {3: 0.5, 5: 0.5}]
