"""Write the default repository's `simple` model: Triton's quickstart example, as ONNX.

    python models/generate.py

`simple/1/model.onnx` takes two FP32 tensors INPUT0, INPUT1 of shape [batch, 16] and returns
OUTPUT0 = INPUT0 + INPUT1 and OUTPUT1 = INPUT0 - INPUT1. The file is committed; this script
says how it was made and rebuilds it.
"""

from pathlib import Path

import onnx
from onnx import TensorProto, helper

HERE = Path(__file__).resolve().parent


def simple_model() -> onnx.ModelProto:
    def tensor(name):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", 16])

    graph = helper.make_graph(
        [helper.make_node("Add", ["INPUT0", "INPUT1"], ["OUTPUT0"]),
         helper.make_node("Sub", ["INPUT0", "INPUT1"], ["OUTPUT1"])],
        "simple", [tensor("INPUT0"), tensor("INPUT1")], [tensor("OUTPUT0"), tensor("OUTPUT1")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="sardonyx")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def main() -> None:
    folder = HERE / "simple" / "1"
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(simple_model(), folder / "model.onnx")


if __name__ == "__main__":
    main()
