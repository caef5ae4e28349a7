"""PyTorch's advanced autograd / torch.func tutorials, makemore and minGPT run with ``import trainer as torch`` and
with torch itself (the third sweep; the loader is program_port.py).

Each program in ``programs/`` is a shortened copy (same code, small generated data, a few steps). Both libraries get
the same inputs and, for models, the same weights (copied from torch), and must agree.
"""


import numpy as np
import pytest

from tests.trainer.examples.program_port import as_numpy, assert_close, copy_weights, pair


def assert_tensors_close(ours, theirs, rtol=1e-5, atol=1e-6, where="result"):
    """Tensors (or nested tuples/lists of them) compared by dtype and values."""
    if isinstance(theirs, (list, tuple)):
        assert len(ours) == len(theirs), where
        for i, (o, t) in enumerate(zip(ours, theirs)):
            assert_tensors_close(o, t, rtol, atol, f"{where}[{i}]")
        return
    if not hasattr(theirs, "detach"):
        assert ours == theirs, where
        return
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1], f"{where}: dtype"
    np.testing.assert_allclose(as_numpy(ours), as_numpy(theirs), rtol=rtol, atol=atol, err_msg=where)


def float32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def paired_models(pt, tr, build, *args):
    model_pt, model_tr = build(pt)(*args), build(tr)(*args)
    copy_weights(model_pt, model_tr)
    return model_pt, model_tr


def test_forward_ad_dual_tensors():
    pt, tr = pair("forward_ad_usage")
    rng = np.random.default_rng(0)
    arrays = float32(rng, 10, 10), float32(rng, 10, 10), float32(rng, 10, 10)
    assert_tensors_close(tr.basic_usage(*arrays), pt.basic_usage(*arrays))
    assert_tensors_close(tr.functional_api(*arrays[:2]), pt.functional_api(*arrays[:2]))


@pytest.mark.parametrize("part", ["with_modules", "with_functional_call", "functional_api_with_modules"])
def test_forward_ad_modules(part):
    pt, tr = pair("forward_ad_usage")
    x = float32(np.random.default_rng(1), 16, 5)
    model_pt, model_tr = paired_models(pt, tr, lambda lib: lib.build)
    ours = getattr(tr, part)(model_tr, tr.torch.from_numpy(x))
    assert_tensors_close(ours, getattr(pt, part)(model_pt, pt.torch.from_numpy(x)))
    assert float(ours.abs().sum()) > 0


def test_forward_ad_custom_function_jvp():
    pt, tr = pair("forward_ad_usage")
    rng = np.random.default_rng(2)
    primal, tangent = rng.standard_normal((10, 10)), rng.standard_normal((10, 10))
    assert_tensors_close(tr.custom_function(primal, tangent), pt.custom_function(primal, tangent))


def test_per_sample_grads():
    pt, tr = pair("per_sample_grads")
    rng = np.random.default_rng(3)
    data, targets = float32(rng, 4, 1, 28, 28), rng.integers(0, 10, 4)
    model_pt, model_tr = paired_models(pt, tr, lambda lib: lib.SimpleCNN)
    loss_pt, loop_pt, vmapped_pt = pt.main(model_pt, data, targets)
    loss_tr, loop_tr, vmapped_tr = tr.main(model_tr, data, targets)
    assert_close([loss_tr], [loss_pt], rtol=1e-5)
    assert_tensors_close(loop_tr, loop_pt, atol=1e-6)
    assert_tensors_close(vmapped_tr, vmapped_pt, atol=1e-6)
    assert_tensors_close([p.grad for p in model_tr.parameters()], [p.grad for p in model_pt.parameters()], atol=1e-6)


def test_jacobians_hessians():
    pt, tr = pair("jacobians_hessians")
    rng = np.random.default_rng(4)
    weight, bias, x = float32(rng, 16, 16), float32(rng, 16), float32(rng, 16)
    assert_tensors_close(tr.jacobians(weight, bias, x), pt.jacobians(weight, bias, x), atol=1e-5)
    assert_tensors_close(tr.hessians(weight, bias, x), pt.hessians(weight, bias, x), atol=1e-5)
    weight, bias, x = float32(rng, 5, 4), float32(rng, 5), float32(rng, 6, 4)
    ours = tr.batch_jacobian_and_hessian(weight, bias, x)
    assert ours[1].shape == (6, 5, 4, 4)
    assert_tensors_close(ours, pt.batch_jacobian_and_hessian(weight, bias, x), atol=1e-5)
    x, tangent = float32(rng, 64), float32(rng, 64)
    assert_tensors_close(tr.hessian_vector_product(x, tangent), pt.hessian_vector_product(x, tangent))


def test_neural_tangent_kernels():
    pt, tr = pair("neural_tangent_kernels")
    rng = np.random.default_rng(5)
    x_train, x_test = float32(rng, 3, 3, 8, 8), float32(rng, 2, 3, 8, 8)
    model_pt, model_tr = paired_models(pt, tr, lambda lib: lib.CNN)
    ours = tr.main(model_tr, x_train, x_test)
    assert [tuple(t.shape) for t in ours] == [(3, 2, 10, 10), (3, 2, 10), (3, 2), (2, 3, 10, 10)]
    assert_tensors_close(ours, pt.main(model_pt, x_train, x_test), atol=1e-5)


def ensembles(rng):
    pt, tr = pair("ensembling")
    models_pt, models_tr = pt.build(), tr.build()
    for model_pt, model_tr in zip(models_pt, models_tr):
        copy_weights(model_pt, model_tr)
    return pt, tr, models_pt, models_tr, float32(rng, 3, 64, 1, 28, 28)


def test_ensembling_stack_module_state_and_vmap(capsys):
    pt, tr, models_pt, models_tr, data = ensembles(np.random.default_rng(6))
    ours = tr.main(models_tr, data, stateless_device="cpu")
    assert capsys.readouterr().out == "[3, 3, 3, 3, 3, 3]\n"
    assert_tensors_close(ours, pt.main(models_pt, data, stateless_device="cpu"), atol=1e-5)


def test_ensembling_meta_base_model():
    pt, tr, models_pt, models_tr, data = ensembles(np.random.default_rng(6))
    assert_tensors_close(tr.main(models_tr, data), pt.main(models_pt, data), atol=1e-5)


def test_custom_function_double_backward():
    pt, tr = pair("custom_function_double_backward")
    values = np.random.default_rng(7).random((3, 3))
    (checks_pt, results_pt), (checks_tr, results_tr) = pt.main(values), tr.main(values)
    assert checks_tr == checks_pt == [True] * 8
    assert_tensors_close(results_tr, results_pt, rtol=1e-12, atol=1e-14)
    with pytest.raises(RuntimeError, match="does not require grad"):
        pt.sinh_bad_double_backward(values)
    with pytest.raises(RuntimeError, match="does not require grad"):
        tr.sinh_bad_double_backward(values)


def test_custom_function_conv_bn_gradchecks():
    pt, tr = pair("custom_function_conv_bn")
    rng = np.random.default_rng(8)
    arrays = rng.random((10, 3, 7, 7)), rng.random((5, 3, 3, 3)), rng.random((1, 2, 3, 4)), rng.random((2, 3, 4, 4)), \
        rng.random((5, 3, 3, 3))
    assert tr.gradchecks(*arrays) == pt.gradchecks(*arrays) == (True, True, True)


@pytest.mark.parametrize("fused", [True, False])
def test_custom_function_conv_bn_training(fused):
    pt, tr = pair("custom_function_conv_bn")
    rng = np.random.default_rng(9)
    images, labels = float32(rng, 3, 4, 1, 28, 28), rng.integers(0, 10, (3, 4))
    model_pt, model_tr = paired_models(pt, tr, lambda lib: lib.Net, fused)
    model_pt.dropout.p = model_tr.dropout.p = 0.0  # deterministic: both runs must agree step by step
    losses_pt, losses_tr = pt.train(model_pt, images, labels), tr.train(model_tr, images, labels)
    assert_close(losses_tr, losses_pt, rtol=1e-4)
    assert_tensors_close(list(model_tr.parameters()), list(model_pt.parameters()), rtol=1e-4, atol=1e-5)


def test_scaled_dot_product_attention_basic_and_module():
    pt, tr = pair("scaled_dot_product_attention")
    rng = np.random.default_rng(10)
    qkv = float32(rng, 2, 3, 8), float32(rng, 2, 3, 8), float32(rng, 2, 3, 8)
    assert_tensors_close(tr.basic(*qkv), pt.basic(*qkv))
    model_pt, model_tr = paired_models(pt, tr, lambda lib: lib.build)
    x = float32(rng, 2, 5, 32)
    assert_tensors_close(tr.run_model(model_tr, x), pt.run_model(model_pt, x), atol=1e-5)


def causal_inputs():
    rng = np.random.default_rng(11)
    return float32(rng, 2, 3, 2, 4), float32(rng, 2, 3, 6, 4), float32(rng, 2, 3, 6, 4)


def test_scaled_dot_product_attention_causal_biases():
    pt, tr = pair("scaled_dot_product_attention")
    assert_tensors_close(tr.causal_biases(*causal_inputs()), pt.causal_biases(*causal_inputs()))


def test_scaled_dot_product_attention_causal_biases_without_subclass_check():
    """The rest of that section, run directly: the biases' masks, attention with them, and their gradients."""
    pt, tr = pair("scaled_dot_product_attention")
    results = []
    for lib in (pt, tr):
        query, key, value = (lib.torch.from_numpy(a) for a in causal_inputs())
        query.requires_grad_()
        upper_left, lower_right = lib.causal_upper_left(2, 6), lib.causal_lower_right(2, 6)
        out_upper_left = lib.F.scaled_dot_product_attention(query, key, value, upper_left)
        out_lower_right = lib.F.scaled_dot_product_attention(query, key, value, lower_right)
        out_is_causal = lib.F.scaled_dot_product_attention(query, key, value, is_causal=True)
        out_lower_right.sum().backward()
        results.append((upper_left._materialize(), lower_right._materialize(), out_upper_left, out_lower_right,
                        out_is_causal, query.grad))
    assert_tensors_close(results[1], results[0])


def token_batches(rng, vocab, block, steps=4, batch=8):
    """Counting sequences (each token one more than the last, modulo vocab) after makemore's <START> token 0: easy
    to learn in a few steps, and with no ties in what a trained model predicts."""
    starts = rng.integers(1, vocab, (steps, batch, 1))
    tokens = (starts + np.arange(block + 1)) % vocab
    tokens[:, :, 0] = 0
    return [(t[:, :-1].copy(), t[:, 1:].copy()) for t in tokens]


def test_mingpt_train_and_generate(capsys):
    pt, tr = pair("mingpt")
    rng = np.random.default_rng(12)
    model_pt, model_tr = paired_models(pt, tr, lambda lib: lib.build)
    printed = capsys.readouterr().out
    assert printed.count("number of parameters: 0.01M") == 2
    batches = token_batches(rng, 11, 8)
    losses_pt, losses_tr = pt.train(model_pt, batches), tr.train(model_tr, batches)
    assert_close(losses_tr, losses_pt, rtol=1e-4)
    assert losses_tr[-1] < losses_tr[0]
    prompt = rng.integers(0, 11, (2, 5))
    assert_tensors_close(tr.complete(model_tr, prompt), pt.complete(model_pt, prompt))
    assert_tensors_close(tr.complete(model_tr, prompt, top_k=3), pt.complete(model_pt, prompt, top_k=3))
    sampled = tr.sample(model_tr, prompt)
    assert sampled.shape == (2, 11) and str(sampled.dtype) == "trainer.int64"
    np.testing.assert_array_equal(as_numpy(sampled[:, :5]), prompt)
    assert int(sampled.min()) >= 0 and int(sampled.max()) < 11


@pytest.mark.parametrize("kind", ["bigram", "mlp", "rnn", "gru"])
def test_makemore(kind):
    pt, tr = pair("makemore")
    rng = np.random.default_rng(13)
    model_pt, model_tr = paired_models(pt, tr, lambda lib: lib.build, kind)
    batches = token_batches(rng, 8, 6)
    losses_pt, losses_tr = pt.train(model_pt, batches), tr.train(model_tr, batches)
    assert_close(losses_tr, losses_pt, rtol=1e-4)
    assert losses_tr[-1] < losses_tr[0]
    assert_tensors_close(tr.greedy(model_tr), pt.greedy(model_pt))
    samples = tr.print_samples(model_tr)  # torch.multinomial: trainer's own random stream
    assert samples.shape == (4, 6) and int(samples.max()) < 8 and int(samples.min()) >= 0
