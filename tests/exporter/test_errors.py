"""Bad input gives errors that say what was wrong, where, and what to do."""

import pytest

import trainer
from exporter import ExportError, OpsetError, UnsupportedOpError, export, newest_opset
from trainer import nn
from trainer.nn import functional as F


class Head(nn.Module):
    def forward(self, x):
        return F.rrelu(x, training=True)  # random slopes: no lowering


class WithLoss(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.ModuleList([nn.Linear(4, 4), nn.Sequential(nn.ReLU(), Head())])

    def forward(self, x):
        return self.encoder[1](self.encoder[0](x))


def test_an_op_without_lowering_names_the_op_and_the_module_path(tmp_path):
    with pytest.raises(UnsupportedOpError, match=r"trainer op RRelu \(in module 'encoder\.1\.1'\)"):
        export(WithLoss(), trainer.randn(2, 4), tmp_path / "m.onnx")


def test_a_non_tensor_output_is_refused(tmp_path):
    class Counts(nn.Module):
        def forward(self, x):
            return x * 2, x.shape[0]

    with pytest.raises(ExportError, match=r"returned a value of type int \(2\); an exported model's outputs must"):
        export(Counts(), trainer.randn(2, 4), tmp_path / "m.onnx")


def test_dynamic_axes_must_name_an_input_or_output(tmp_path):
    with pytest.raises(ExportError, match=r"dynamic_axes names 'images', which is neither an input \(\['input'\]\)"):
        export(nn.Linear(4, 2), trainer.randn(2, 4), tmp_path / "m.onnx", dynamic_axes={"images": {0: "batch"}})


def test_dynamic_axes_must_be_axes_of_that_tensor(tmp_path):
    with pytest.raises(ExportError, match="has axis 3, but input has 2 dims"):
        export(nn.Linear(4, 2), trainer.randn(2, 4), tmp_path / "m.onnx", dynamic_axes={"input": [3]})


def test_an_opset_too_low_for_an_op_names_the_op_and_the_opset_it_needs(tmp_path):
    class Masks(nn.Module):
        def forward(self, x):
            return x & 6

    with pytest.raises(OpsetError, match=r"BitwiseAnd.*needs opset >= 18.*uses opset 17.*opset_version=18"):
        export(Masks(), trainer.tensor([[1, 2, 3]]), tmp_path / "m.onnx", opset_version=17)
    export(Masks(), trainer.tensor([[1, 2, 3]]), tmp_path / "m.onnx", opset_version=18)


@pytest.mark.parametrize("opset", [12, 10_000])
def test_an_opset_outside_the_range_is_refused(tmp_path, opset):
    with pytest.raises(OpsetError, match=f"opset_version={opset} is outside the supported range 13..{newest_opset()}"):
        export(nn.Linear(4, 2), trainer.randn(2, 4), tmp_path / "m.onnx", opset_version=opset)


def test_non_tensor_arguments_are_refused(tmp_path):
    with pytest.raises(ExportError, match=r"args\[0\] is a list; export traces with example tensors"):
        export(nn.Linear(4, 2), [[1.0] * 4], tmp_path / "m.onnx")


def test_in_place_writes_the_exporter_cannot_follow_are_refused(tmp_path):
    class InPlace(nn.Module):
        def forward(self, x):
            y = x * 2
            y.resize_(4)  # another array over the same memory: no traced write explains it
            return y

    with pytest.raises(ExportError, match="modified in place while tracing"):
        export(InPlace(), trainer.randn(2, 2), tmp_path / "m.onnx")


def test_boolean_mask_indexing_is_refused(tmp_path):
    class Masked(nn.Module):
        def forward(self, x):
            return x[x > 0]

    with pytest.raises(UnsupportedOpError, match="boolean masks"):
        export(Masked(), trainer.randn(2, 2), tmp_path / "m.onnx")


class _DataDependentBranch(nn.Module):
    def forward(self, x):
        return trainer.cond(x.sum() > 0, lambda t: t * 2, lambda t: t - 1, (x,))


class _SizeDependentBranch(nn.Module):
    def forward(self, x):
        return trainer.cond(x.shape[0] > 2, lambda t: t * 2, lambda t: t - 1, (x,))


class _DataDependentLoop(nn.Module):
    def forward(self, x):
        return trainer.while_loop(lambda i, t: i < 3, lambda i, t: (i + 1, t * 2), (0, x))[1]


def test_data_dependent_control_flow_is_refused_not_traced_down_one_path(tmp_path):
    """A file holding only the branch (or the iterations) the example took would answer other inputs wrongly."""
    x = trainer.ones(3)
    for model in (_DataDependentBranch().eval(), trainer.export.export(_DataDependentBranch(), (x,))):
        with pytest.raises(UnsupportedOpError, match="trainer.cond with a tensor predicate cannot be exported"):
            export(model, (x,), tmp_path / "cond.onnx")
    with pytest.raises(UnsupportedOpError, match="trainer.while_loop cannot be exported"):
        export(_DataDependentLoop().eval(), (x,), tmp_path / "loop.onnx")
    assert trainer.cond is trainer.control_flow.cond  # put back after the export


def test_a_branch_picked_by_a_size_is_traced_as_in_torch_export(tmp_path):
    model = _SizeDependentBranch().eval()
    x = trainer.arange(3.0)
    onnx_model = export(model, (x,), tmp_path / "cond.onnx")
    assert [node.op_type for node in onnx_model.graph.node] == ["Mul"]
