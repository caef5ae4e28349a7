"""Two more programs people train from: lucidrains' denoising-diffusion-pytorch (its Unet and GaussianDiffusion's
training loss) and karpathy's llama2.c model.py (loss inside forward, greedy generate), run with
``import trainer as torch`` and with torch itself (the loader is program_port.py).

As in test_transformer_era.py, each model is built tiny in both libraries, trainer's copy gets torch's state_dict,
and the two must agree on outputs, the loss, every gradient and every parameter after one AdamW step. The random
draws the programs make (the diffusion timestep and noise) come from NumPy arrays given to both libraries.
"""

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.examples.program_port import as_numpy, copy_weights, pair
from tests.trainer.examples.test_model_zoo import assert_tensor_close
from tests.trainer.examples.test_transformer_era import check_training_step, from_numpy

# --- lucidrains/denoising-diffusion-pytorch ----------------------------------------------------------------------

UNET = dict(dim=8, dim_mults=(1, 2), channels=3)
IMAGE_SIZE = 16
TIMESTEPS = 100


def build_diffusion(**diffusion_options):
    pt, tr = pair("denoising_diffusion")
    diffusion_pt = pt.GaussianDiffusion(pt.Unet(**UNET), image_size=IMAGE_SIZE, timesteps=TIMESTEPS,
                                        **diffusion_options)
    diffusion_tr = tr.GaussianDiffusion(tr.Unet(**UNET), image_size=IMAGE_SIZE, timesteps=TIMESTEPS,
                                        **diffusion_options)
    copy_weights(diffusion_pt, diffusion_tr)  # the schedule buffers too: checked separately below
    return (pt, diffusion_pt), (tr, diffusion_tr)


def diffusion_inputs(seed):
    """A batch of images in [0, 1], the timesteps and the noise that GaussianDiffusion.forward would draw."""
    rng = np.random.default_rng(seed)
    images = rng.random((2, 3, IMAGE_SIZE, IMAGE_SIZE)).astype(np.float32)
    t = np.array([5, TIMESTEPS - 3])
    noise = rng.standard_normal(images.shape).astype(np.float32)
    return images, t, noise


@pytest.mark.parametrize("beta_schedule", ["linear", "cosine", "sigmoid"])
def test_diffusion_schedules_computed_by_each_library(beta_schedule):
    pt, tr = pair("denoising_diffusion")
    diffusion_pt = pt.GaussianDiffusion(pt.Unet(**UNET), image_size=IMAGE_SIZE, timesteps=TIMESTEPS,
                                        beta_schedule=beta_schedule, p2_loss_weight_gamma=1.0)
    diffusion_tr = tr.GaussianDiffusion(tr.Unet(**UNET), image_size=IMAGE_SIZE, timesteps=TIMESTEPS,
                                        beta_schedule=beta_schedule, p2_loss_weight_gamma=1.0)
    buffers_tr = dict(diffusion_tr.named_buffers())
    buffers_pt = dict(diffusion_pt.named_buffers())
    assert sorted(buffers_tr) == sorted(buffers_pt) and len(buffers_pt) == 13
    for name, buffer in buffers_pt.items():
        assert buffers_tr[name].dtype == trainer.float32, name
        np.testing.assert_allclose(as_numpy(buffers_tr[name]), as_numpy(buffer), rtol=1e-6, atol=1e-7, err_msg=name)


def test_diffusion_unet_eval_and_one_denoising_step():
    (pt, diffusion_pt), (tr, diffusion_tr) = build_diffusion()
    images, t, _ = diffusion_inputs(0)
    diffusion_pt.eval()
    diffusion_tr.eval()
    with torch.no_grad():
        out_pt = diffusion_pt.model(from_numpy(torch, images), from_numpy(torch, t))
        mean_pt, variance_pt, log_variance_pt, x_start_pt = diffusion_pt.p_mean_variance(
            from_numpy(torch, images), from_numpy(torch, t))
    with trainer.no_grad():
        out_tr = diffusion_tr.model(from_numpy(trainer, images), from_numpy(trainer, t))
        mean_tr, variance_tr, log_variance_tr, x_start_tr = diffusion_tr.p_mean_variance(
            from_numpy(trainer, images), from_numpy(trainer, t))
    assert out_tr.shape == (2, 3, IMAGE_SIZE, IMAGE_SIZE)
    assert_tensor_close(out_tr, out_pt, "Unet output")
    assert_tensor_close(x_start_tr, x_start_pt, "predicted x_start (clamped in place)")
    assert float(x_start_tr.abs().max()) <= 1.0
    assert_tensor_close(mean_tr, mean_pt, "posterior mean")
    assert_tensor_close(variance_tr, variance_pt, "posterior variance")
    assert_tensor_close(log_variance_tr, log_variance_pt, "posterior log variance")
    # at t = 0 p_sample adds no noise: the step is deterministic
    sample_pt, _ = diffusion_pt.p_sample(from_numpy(torch, images), 0)
    sample_tr, _ = diffusion_tr.p_sample(from_numpy(trainer, images), 0)
    assert not sample_tr.requires_grad
    assert_tensor_close(sample_tr, sample_pt, "p_sample at t = 0")


def test_diffusion_forward_loss_with_the_drawn_timesteps_given(monkeypatch):
    """GaussianDiffusion.forward (l1 loss, pred_noise): its torch.randint draw is replaced in both libraries by the
    same fixed timesteps, its noise comes in through the noise= keyword that forward passes on to p_losses."""
    (pt, diffusion_pt), (tr, diffusion_tr) = build_diffusion()
    images, t, noise = diffusion_inputs(1)
    losses = {}
    for lib, diffusion in ((torch, diffusion_pt), (trainer, diffusion_tr)):
        # test-side stand-in for the random timestep draw, checked to be asked for the upstream range and shape
        def fixed_randint(low, high, size, device=None, lib=lib):
            assert (low, high, tuple(size)) == (0, TIMESTEPS, (2,))
            return from_numpy(lib, t)

        monkeypatch.setattr(lib, "randint", fixed_randint)
        losses[lib.__name__] = diffusion(from_numpy(lib, images), noise=from_numpy(lib, noise))
        monkeypatch.undo()
    assert_tensor_close(losses["trainer"], losses["torch"], "l1 loss of forward()")


def test_diffusion_training_step_pred_v_l2_with_p2_weights():
    (pt, diffusion_pt), (tr, diffusion_tr) = build_diffusion(
        objective="pred_v", loss_type="l2", beta_schedule="sigmoid", p2_loss_weight_gamma=1.0)
    images, t, noise = diffusion_inputs(2)

    def loss_of(lib, diffusion):
        x_start = lib.from_numpy(images) * 2 - 1  # forward's normalize_to_neg_one_to_one
        return diffusion.p_losses(x_start, from_numpy(lib, t), noise=from_numpy(lib, noise))

    check_training_step(diffusion_pt, diffusion_tr, loss_of)


# --- karpathy/llama2.c ----------------------------------------------------------------------------------------

LLAMA2C = dict(dim=32, n_layers=2, n_heads=4, n_kv_heads=2, vocab_size=40, multiple_of=16, max_seq_len=10)


def build_llama2c():
    pt, tr = pair("llama2c")
    model_pt = pt.Transformer(pt.ModelArgs(**LLAMA2C))
    model_tr = tr.Transformer(tr.ModelArgs(**LLAMA2C))
    copy_weights(model_pt, model_tr)
    assert model_tr.output.weight is model_tr.tok_embeddings.weight
    return (pt, model_pt), (tr, model_tr)


def test_llama2c_eval_and_greedy_generate_past_max_seq_len():
    (pt, model_pt), (tr, model_tr) = build_llama2c()
    model_pt.eval()
    model_tr.eval()
    prompt = np.random.default_rng(0).integers(0, LLAMA2C["vocab_size"], (2, 7))
    with torch.no_grad():
        logits_pt = model_pt(from_numpy(torch, prompt))
    with trainer.no_grad():
        logits_tr = model_tr(from_numpy(trainer, prompt))
    assert logits_tr.shape == (2, 1, LLAMA2C["vocab_size"]) and model_tr.last_loss is None
    assert_tensor_close(logits_tr, logits_pt, "last-position logits")
    # 7 + 6 tokens: the last steps crop the context to max_seq_len = 10
    generated_pt = model_pt.generate(from_numpy(torch, prompt), 6, temperature=0.0)
    generated_tr = model_tr.generate(from_numpy(trainer, prompt), 6, temperature=0.0)
    assert generated_tr.dtype == trainer.int64 and not generated_tr.requires_grad
    np.testing.assert_array_equal(as_numpy(generated_tr), as_numpy(generated_pt))


def test_llama2c_training_step_with_loss_from_forward():
    (pt, model_pt), (tr, model_tr) = build_llama2c()
    tokens = np.random.default_rng(1).integers(0, LLAMA2C["vocab_size"], (2, 9))
    targets = tokens[:, 1:].copy()
    targets[0, :2] = -1  # train.py's ignore_index: padding positions

    def loss_of(lib, model):
        logits = model(from_numpy(lib, tokens[:, :-1]), from_numpy(lib, targets))
        assert tuple(logits.shape) == (2, 8, LLAMA2C["vocab_size"])
        return model.last_loss

    check_training_step(model_pt, model_tr, loss_of)


def test_llama2c_configure_optimizers_and_mfu(capsys):
    (pt, model_pt), (tr, model_tr) = build_llama2c()
    optimizer_pt = model_pt.configure_optimizers(0.1, 5e-4, (0.9, 0.95), "cpu")
    printed_pt = capsys.readouterr().out
    optimizer_tr = model_tr.configure_optimizers(0.1, 5e-4, (0.9, 0.95), "cpu")
    printed_tr = capsys.readouterr().out
    assert isinstance(optimizer_tr, trainer.optim.AdamW)
    assert printed_tr == printed_pt  # decayed / non-decayed tensor and parameter counts, fused or not
    group_sizes = [[len(g["params"]) for g in opt.param_groups] for opt in (optimizer_tr, optimizer_pt)]
    assert group_sizes[0] == group_sizes[1]
    assert [g["weight_decay"] for g in optimizer_tr.param_groups] == [0.1, 0.0]
    assert model_tr.estimate_mfu(4, 0.5) == pytest.approx(model_pt.estimate_mfu(4, 0.5), rel=1e-12)


def test_llama2c_manual_attention_fallback(monkeypatch, capsys):
    """Without F.scaled_dot_product_attention (PyTorch < 2.0) the program registers a causal -inf mask and computes
    attention by hand; both libraries are built with the function hidden, then run with it back."""
    for lib in (torch, trainer):
        monkeypatch.delattr(lib.nn.functional, "scaled_dot_product_attention")
    (pt, model_pt), (tr, model_tr) = build_llama2c()
    monkeypatch.undo()
    assert "WARNING: using slow attention" in capsys.readouterr().out
    assert not model_tr.layers[0].attention.flash
    mask = as_numpy(model_tr.layers[0].attention.mask)
    assert mask.shape == (1, 1, 10, 10) and np.isneginf(mask[0, 0, 0, 1]) and mask[0, 0, 1, 0] == 0
    tokens = np.random.default_rng(2).integers(0, LLAMA2C["vocab_size"], (2, 9))
    logits_pt = model_pt(from_numpy(torch, tokens[:, :-1]), from_numpy(torch, tokens[:, 1:]))
    logits_tr = model_tr(from_numpy(trainer, tokens[:, :-1]), from_numpy(trainer, tokens[:, 1:]))
    assert_tensor_close(logits_tr, logits_pt, "logits (manual attention)")
    assert_tensor_close(model_tr.last_loss, model_pt.last_loss, "loss (manual attention)")
    model_pt.last_loss.backward()
    model_tr.last_loss.backward()
    assert_tensor_close(model_tr.layers[0].attention.wq.weight.grad, model_pt.layers[0].attention.wq.weight.grad,
                        "gradient of wq through the masked softmax")
