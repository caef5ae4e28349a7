"""The linear-algebra functions that ONNX can express exported and run at other batch sizes (``det`` as ONNX's
``Det``; norms, ``trace``, ``kron``, ``tensordot``, ``cdist``, ``matrix_power`` composed of lowered ops), and
the decompositions ONNX has no operator for reported clearly."""

import math

import pytest

import trainer
from exporter import export
from exporter.errors import UnsupportedOpError
from tests.exporter.function_module import Fn

BATCHES = ({0: 1}, {0: 5})

FUNCTIONS = {
    "det": lambda x: trainer.linalg.det(x) + x.det() * 2,
    "norms": lambda x: (trainer.linalg.vector_norm(x, 3, dim=-1), trainer.linalg.matrix_norm(x),
                        trainer.linalg.matrix_norm(x, 1), trainer.linalg.matrix_norm(x, -math.inf),
                        trainer.linalg.norm(x, dim=(1, 2))),
    "trace_kron": lambda x: trainer.kron(x, trainer.tensor([[1.0, -1.0], [0.5, 2.0]])) + x[0].trace(),
    "tensordot": lambda x: trainer.tensordot(x, x, dims=([1, 2], [1, 2])),
    "cdist": lambda x: (trainer.cdist(x, x * 2 + 1), trainer.cdist(x, x.flip(1), p=1.0)),
    "matrix_power": lambda x: trainer.linalg.matrix_power(x / 3, 5) + trainer.linalg.multi_dot([x, x, x]),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_exports_and_matches(name, runtime, roundtrip):
    trainer.manual_seed(0)
    roundtrip(Fn(FUNCTIONS[name]), trainer.randn(3, 4, 4), runtime, dynamic=[0], variants=BATCHES)


@pytest.mark.parametrize("name,fn", [("Inverse", trainer.linalg.inv), ("Solve", lambda x: trainer.linalg.solve(x, x)),
                                     ("SingularValueDecomposition", trainer.linalg.svdvals),
                                     ("SymmetricEigen", lambda x: trainer.linalg.eigvalsh(x + x.mT))])
def test_decompositions_without_an_onnx_operator_are_reported(name, fn, tmp_path):
    with pytest.raises(UnsupportedOpError, match=f"trainer op {name} .* has no ONNX lowering"):
        export(Fn(fn).eval(), trainer.randn(2, 3, 3) + 3 * trainer.eye(3), tmp_path / "model.onnx")
