"""pytorch/tutorials' PyTorch 2 tutorials run with ``import trainer as torch`` and with torch itself: torch.export
(export, graph signature, dynamic shapes with Dim and their errors, ep.module(), custom ops in a graph), Python custom
ops (register_fake / register_autograd, a mutating op), torch.compile (eager in trainer: the results must match),
nested tensors (jagged and strided, attention on them) and knowledge distillation's losses.

Left out: the parts that need TorchDynamo/Inductor internals (export_for_training and run_decompositions' ATen graphs,
torch._logging, torch._higher_order_ops.map, compile's custom backends and timing), torch.library.opcheck (absent in
trainer) and recipes_source/torch_export_challenges_solutions (not in pytorch/tutorials' Python sources). torch runs
torch.compile with backend="eager" here: Inductor's C++ compilation takes half a minute, and what is compared is
what the compiled code computes.
"""

import contextlib
import functools
import io

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.examples.program_port import as_numpy, copy_weights, pair, without_dropout


def to_trainer(value):
    return trainer.tensor(value.detach().numpy()) if isinstance(value, torch.Tensor) else value


def assert_same(ours, theirs, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(as_numpy(ours), as_numpy(theirs), rtol=rtol, atol=atol)


# --------------------------------------------------------------------------- torch.export
@pytest.fixture(scope="module")
def export_programs():
    return pair("pt2_torch_export")


def test_export_prints_the_same_graph_signature(export_programs):
    pt, tr = export_programs
    assert type(tr.exported_mod).__name__ == type(pt.exported_mod).__name__ == "ExportedProgram"
    assert str(tr.exported_mod.graph_signature).replace("trainer", "torch") == str(pt.exported_mod.graph_signature)
    assert [s.kind.name for s in tr.exported_mod.graph_signature.input_specs] == ["PARAMETER", "PARAMETER",
                                                                                 "USER_INPUT", "USER_INPUT"]


def test_exported_module_computes_what_the_model_does(export_programs):
    pt, tr = export_programs
    copy_weights(pt.mod, tr.mod)
    x, y = torch.randn(8, 100), torch.randn(8, 100)
    ours = tr.export(tr.mod, (to_trainer(x), to_trainer(y))).module()(to_trainer(x), to_trainer(y))
    assert_same(ours, pt.exported_mod.module()(x, y))
    copy_weights(pt.m, tr.m)
    inp = torch.randn(2, 3)
    assert_same(tr.torch.export.export(tr.m, (to_trainer(inp),)).module()(to_trainer(inp)), pt.ep.module()(inp))


def test_export_raises_what_torch_raises(export_programs):
    pt, tr = export_programs
    assert list(tr.errors) == list(pt.errors)
    for name, theirs in pt.errors.items():
        assert type(tr.errors[name]).__name__ == type(theirs).__name__, name
    # the guards of ep.module() name the failing size as torch's do
    for name in ("mod2_shape", "dim1_below", "dim1_above", "dim2_static", "inner_dim_unequal"):
        assert str(tr.errors[name]).startswith(str(pt.errors[name])), name
    assert str(tr.errors["example_outside_range"]).startswith("10 not in range [11, 18]")


def test_dynamic_shapes_accept_other_sizes(export_programs):
    pt, tr = export_programs
    x = torch.randn(5, 5, 2)
    assert_same(tr.exported_dynamic_shapes_example1.module()(to_trainer(x)),
                pt.exported_dynamic_shapes_example1.module()(x))
    for name, inputs in (("exported_dynamic_shapes_example2", pt.example2_in),
                         ("exported_dynamic_shapes_example3", pt.example3_in)):
        ours = getattr(tr, name).module()(*map(to_trainer, inputs))
        assert_same(ours, getattr(pt, name).module()(*inputs), rtol=1e-4, atol=1e-5)
    assert tuple(tr.example3_out.shape) == tuple(pt.example3_out.shape) == (4, 16)


def test_non_strict_export_keeps_id_as_a_constant(export_programs):
    pt, tr = export_programs
    for program in (pt, tr):
        constant = float(program.bad3_out[0, 0]) - 2  # ones + 1 + id(x)
        assert constant > 0 and bool((program.bad3_out == 2 + constant).all())


def test_exported_custom_op_runs_its_kernel(export_programs):
    pt, tr = export_programs
    node_targets = [str(n.target) for n in tr.exported_custom_op_example.graph.nodes if n.op == "call_function"]
    assert "my_custom_library.custom_op.default" in node_targets
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ours = tr.exported_custom_op_example.module()(to_trainer(pt.custom_op_in))
    assert out.getvalue() == "custom_op called!\n"
    assert_same(ours, pt.custom_op_out)


def test_export_with_cond():
    pt, tr = pair("pt2_torch_export_cond")
    assert_same(tr.bad1_fixed_pos, pt.bad1_fixed_pos)
    assert_same(tr.bad1_fixed_neg, pt.bad1_fixed_neg)


def test_export_with_derived_dims():
    pt, tr = pair("pt2_torch_export_derived_dims")
    assert_same(tr.derived_dim_example1.module()(*map(to_trainer, pt.derived1_in)), pt.derived1_out)


# --------------------------------------------------------------------------- Python custom ops
def test_python_custom_ops():
    pt, tr = pair("pt2_python_custom_ops")
    assert_same(tr.cropped_img, pt.cropped_img)
    assert tuple(tr.cropped_img.shape) == (3, 40, 40)
    assert_same(tr.result, pt.result)
    # crop's registered backward pastes the gradient back: ones inside the box, zeros around it
    assert_same(tr.img.grad, pt.img.grad)
    assert float(tr.img.grad.sum()) == 3 * 40 * 40
    # the mutating numpy_sin writes into its output argument
    x = torch.randn(3)
    assert_same(tr.f(to_trainer(x)), pt.f(x))


def test_custom_op_meta_kernel_gives_the_shape():
    _, tr = pair("pt2_python_custom_ops")
    meta = tr.crop(trainer.empty(3, 64, 64, device="meta"), (10, 10, 50, 30))
    assert tuple(meta.shape) == (3, 20, 40) and meta.device.type == "meta"


# --------------------------------------------------------------------------- torch.compile
@pytest.fixture(scope="module")
def compile_programs():
    compile_ = torch.compile
    torch.compile = functools.partial(compile_, backend="eager")
    try:
        return pair("pt2_torch_compile")
    finally:
        torch.compile = compile_


def test_compiled_functions_and_modules(compile_programs):
    pt, tr = compile_programs
    inputs = [to_trainer(x) for x in pt.foo_in]
    assert_same(tr.opt_foo1(*inputs), pt.foo_out)
    assert_same(tr.opt_foo2(*inputs), pt.foo2_out)
    copy_weights(pt.mod, tr.mod)
    assert_same(tr.opt_mod(to_trainer(pt.mod_in)), pt.mod_out)
    assert type(tr.opt_mod).__name__ == type(pt.opt_mod).__name__ == "OptimizedModule"
    assert list(tr.opt_mod.state_dict()) == list(pt.opt_mod.state_dict())


def test_compiled_training_step(compile_programs):
    pt, tr = compile_programs
    models = pt.init_model(), tr.init_model()
    copy_weights(*models)
    pt.opt, tr.opt = torch.optim.Adam(models[0].parameters()), trainer.optim.Adam(models[1].parameters())
    for _ in range(3):
        data = pt.generate_data(16)
        theirs = pt.train_opt(models[0], data).item()
        ours = tr.train_opt(models[1], tuple(map(to_trainer, data))).item()
        np.testing.assert_allclose(ours, theirs, rtol=1e-5)


def test_compile_handles_what_tracing_cannot(compile_programs):
    pt, tr = compile_programs
    assert type(tr.fx_error).__name__ == type(pt.fx_error).__name__
    assert tr.fx_results == pt.fx_results == (True, False)  # concrete_args bake in one branch
    assert tr.compile_f1_results == pt.compile_f1_results == (True, True)
    assert tr.compile_f2_result and tr.compile_f3_result and pt.compile_f3_result
    assert_same(tr.compile_f3(to_trainer(pt.f3_in)), pt.f3_out)
    assert_same(tr.opt_bar(to_trainer(pt.inp1), to_trainer(pt.inp2)), pt.bar_out[0])
    assert_same(tr.opt_bar(to_trainer(pt.inp1), to_trainer(-pt.inp2)), pt.bar_out[1])


# --------------------------------------------------------------------------- nested tensors
@pytest.fixture(scope="module")
def nested_programs():
    return pair("pt2_nested_tensor")


def _nested_like(nt, layout=None):
    return trainer.nested.nested_tensor([to_trainer(c) for c in nt.unbind()], layout=layout)


def assert_same_components(ours, theirs, rtol=1e-5, atol=1e-6):
    assert ours.is_nested and theirs.is_nested and len(ours.unbind()) == len(theirs.unbind())
    for o, t in zip(ours.unbind(), theirs.unbind(), strict=True):
        assert_same(o, t, rtol, atol)


def test_nested_tensor_basics(nested_programs):
    pt, tr = nested_programs
    assert_same(tr.padded_out_tensor, pt.padded_out_tensor)
    assert tr.nt.is_nested and not tr.padded_out_tensor.is_nested
    assert_same(tr.nt[1, :, -1], pt.nt[1, :, -1])
    assert_same_components(tr.nt_reshaped, pt.nt_reshaped)
    assert_same_components(tr.nt_transposed, pt.nt_transposed)
    assert_same_components(trainer.matmul(tr.nt_transposed, _nested_like(pt.nt_mm)), pt.nt3)
    assert_same(tr.nested_softmax.to_padded_tensor(0.0), pt.nested_softmax.to_padded_tensor(0.0))
    assert_same(tr.padded_softmax, pt.padded_softmax)


def test_nested_reshape_keeps_the_batch(nested_programs):
    _, tr = nested_programs
    with pytest.raises(RuntimeError, match="batch dimension"):
        tr.nt.reshape(3, -1, 2, 3)
    with pytest.raises(RuntimeError, match="batch dimension"):
        pt_nt = torch.nested.nested_tensor([torch.zeros(2, 6), torch.zeros(3, 6)])
        pt_nt.reshape(3, -1, 2, 3)


def test_attention_on_jagged_and_padded_batches(nested_programs):
    pt, tr = nested_programs
    copy_weights(pt.mha, tr.mha)
    query, key, value = (_nested_like(t, trainer.jagged) for t in (pt.query, pt.key, pt.value))
    assert_same_components(tr.mha(query, key, value), pt.output_nested, rtol=1e-4, atol=1e-5)
    padded = tr.mha(*(to_trainer(t) for t in (pt.padded_query, pt.padded_key, pt.padded_value)))
    for i, length in enumerate(pt.sentence_lengths.tolist()):
        padded[i, length:] = 0.0
    assert_same(padded, pt.output_padded, rtol=1e-4, atol=1e-5)


def test_causal_attention_on_a_jagged_batch_is_refused():
    """The tutorial's is_causal=True: PyTorch's CPU build has no nested-tensor kernel for it, nor has trainer."""
    def attend(lib):
        nt = lib.nested.nested_tensor([lib.ones(3, 8), lib.ones(5, 8)], layout=lib.jagged)
        nt = nt.unflatten(-1, [2, 4]).transpose(1, 2)
        return lib.nn.functional.scaled_dot_product_attention(nt, nt, nt, is_causal=True)

    for lib in (torch, trainer):
        with pytest.raises(RuntimeError):
            attend(lib)


# --------------------------------------------------------------------------- knowledge distillation
def _run_epoch(program, fn, *args, **kwargs) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        fn(*args, train_loader=program.train_loader, epochs=1, learning_rate=0.001, device="cpu", **kwargs)
    return out.getvalue()


def _epoch_loss(printed: str) -> float:
    return float(printed.rsplit("Loss: ", 1)[1])


def test_knowledge_distillation_losses():
    pt, tr = pair("pt2_knowledge_distillation")
    tr.train_loader = trainer.utils.data.DataLoader(
        trainer.utils.data.TensorDataset(to_trainer(pt.images), to_trainer(pt.targets)), batch_size=4, shuffle=False)

    def same_models(cls_name):
        theirs = without_dropout(getattr(pt, cls_name)())
        ours = without_dropout(getattr(tr, cls_name)())
        copy_weights(theirs, ours)
        return theirs, ours

    teachers = same_models("DeepNN")
    losses = [_epoch_loss(_run_epoch(p, p.train, model=m)) for p, m in ((pt, teachers[0]), (tr, teachers[1]))]
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-4)

    students = same_models("LightNN")
    losses = [_epoch_loss(_run_epoch(p, p.train_knowledge_distillation, teacher=t, student=s, T=2,
                                     soft_target_loss_weight=0.25, ce_loss_weight=0.75))
              for p, t, s in zip((pt, tr), teachers, students, strict=True)]
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-4)

    for teacher_cls, student_cls, train_fn, weight in (
            ("ModifiedDeepNNCosine", "ModifiedLightNNCosine", "train_cosine_loss", "hidden_rep_loss_weight"),
            ("ModifiedDeepNNRegressor", "ModifiedLightNNRegressor", "train_mse_loss", "feature_map_weight")):
        teachers = same_models(teacher_cls)
        students = same_models(student_cls)
        losses = [_epoch_loss(_run_epoch(p, getattr(p, train_fn), teacher=t, student=s, ce_loss_weight=0.75,
                                         **{weight: 0.25}))
                  for p, t, s in zip((pt, tr), teachers, students, strict=True)]
        np.testing.assert_allclose(losses[1], losses[0], rtol=1e-4, err_msg=train_fn)
    accuracies = [p.test_multiple_outputs(s, p.test_loader if p is pt else tr.train_loader, "cpu")
                  for p, s in zip((pt, tr), students, strict=True)]
    assert accuracies[0] == accuracies[1]
