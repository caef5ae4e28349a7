"""pytorch/examples and the classic tutorials, run with ``import trainer as torch`` and with torch itself.

Each program in ``programs/`` is a shortened copy of the original (same model and training code, random data,
a few steps). Where a run is deterministic the two libraries start from the same weights (copied from torch) and
their losses must agree; where a program draws random numbers inside its loop (dropout, sampling, noise),
the trainer run must at least learn.
"""


import numpy as np
import pytest

from tests.trainer.examples import program_port
from tests.trainer.examples.program_port import as_numpy, assert_close, copy_weights, load, pair, without_dropout


def test_port_rewrites_only_import_lines():
    source = ("import torch\nimport torch.nn as nn\nimport torch.utils.data\nfrom torch.optim import Adam\n"
              "x = torch.a  # torch\n")
    assert program_port.port(source) == (
        "import trainer as torch\nimport trainer.nn as nn\nimport trainer.utils.data\nfrom trainer.optim import Adam\n"
        "x = torch.a  # torch\n"
    )


def test_mnist():
    pt, tr = pair("mnist")
    pt.torch.manual_seed(1)
    model_pt = without_dropout(pt.Net())
    model_tr = without_dropout(tr.Net())
    copy_weights(model_pt, model_tr)
    losses_pt, test_pt = pt.main(model_pt)
    losses_tr, test_tr = tr.main(model_tr)
    assert_close(losses_tr, losses_pt, rtol=2e-3)
    assert_close(test_tr, test_pt, rtol=2e-3)
    losses, _ = tr.main(tr.Net(), epochs=2)  # with dropout: it still learns
    assert losses[-1] < losses[0]


def test_mnist_rnn():
    pt, tr = pair("mnist_rnn")
    model_pt = without_dropout(pt.Net())
    model_tr = without_dropout(tr.Net())
    copy_weights(model_pt, model_tr)
    losses_pt, test_pt = pt.main(model_pt)
    losses_tr, test_tr = tr.main(model_tr)
    assert_close(losses_tr, losses_pt, rtol=2e-3)
    assert_close(test_tr, test_pt, rtol=2e-3)
    losses, _ = tr.main(tr.Net(), epochs=6, shuffle=True)  # with dropout: per-batch losses are noisy
    assert np.mean(losses[-4:]) < np.mean(losses[:4])


def test_mnist_hogwild_single_worker():
    tr = load("mnist_hogwild", "trainer")
    before, losses, after = tr.main()
    assert after < before
    assert np.mean(losses[-3:]) < np.mean(losses[:3])


def test_vae():
    pt, tr = pair("vae")
    recon, x = np.random.default_rng(0).uniform(0.05, 0.95, (2, 4, 784))
    mu, logvar = np.random.default_rng(1).normal(size=(2, 4, 20))
    expected = pt.loss_function(*(pt.torch.from_numpy(a) for a in (recon, x, mu, logvar)))
    ours = tr.loss_function(*(tr.torch.from_numpy(a) for a in (recon, x, mu, logvar)))
    assert_close([ours.item()], [expected.item()], rtol=1e-10)
    train_losses, test_losses = tr.main()
    assert train_losses[-1] < train_losses[0]
    assert test_losses[-1] < test_losses[0]


@pytest.mark.parametrize("model_type", ["LSTM", "GRU", "RNN_TANH", "Transformer"])
def test_word_language_model(model_type):
    pt, tr = pair("word_language_model")
    model_pt = without_dropout(pt.build(model_type))
    model_tr = without_dropout(tr.build(model_type))
    copy_weights(model_pt, model_tr)
    losses_pt, val_pt = pt.main(model_pt, model_type)
    losses_tr, val_tr = tr.main(model_tr, model_type)
    assert_close(losses_tr, losses_pt, rtol=1e-3)
    assert_close(val_tr, val_pt, rtol=1e-3)
    losses, _ = tr.main(tr.build(model_type), model_type, epochs=4)  # with dropout
    assert np.mean(losses[-4:]) < np.mean(losses[:4])


def test_time_sequence_prediction():
    pt, tr = pair("time_sequence_prediction")
    model_pt = pt.Sequence().double()
    model_tr = tr.Sequence().double()
    copy_weights(model_pt, model_tr)
    losses_pt, test_pt = pt.main(model_pt)
    losses_tr, test_tr = tr.main(model_tr)
    assert_close(losses_tr, losses_pt, rtol=1e-7)
    assert_close(test_tr, test_pt, rtol=1e-7)
    assert losses_tr[-1] < losses_tr[0]


def test_regression():
    pt, tr = pair("regression")
    model_pt, model_tr = pt.build(), tr.build()
    copy_weights(model_pt, model_tr)
    losses_pt, desc_pt = pt.main(model_pt)
    losses_tr, desc_tr = tr.main(model_tr)
    assert_close(losses_tr, losses_pt, rtol=1e-4)
    assert desc_tr == desc_pt  # formatting 0-d tensors with '{:+.2f}'
    assert losses_tr[-1] < 0.1 * losses_tr[0]


def test_super_resolution():
    pt, tr = pair("super_resolution")
    model_pt, model_tr = pt.Net(upscale_factor=3), tr.Net(upscale_factor=3)
    copy_weights(model_pt, model_tr)
    losses_pt, psnr_pt = pt.main(model_pt)
    losses_tr, psnr_tr = tr.main(model_tr)
    assert_close(losses_tr, losses_pt, rtol=1e-3)
    assert_close(psnr_tr, psnr_pt, rtol=1e-3)
    assert losses_tr[-1] < losses_tr[0]
    # trainer's own orthogonal init: the same gain-scaled orthonormal rows as PyTorch's
    weight = as_numpy(tr.Net(upscale_factor=3).conv2.weight).reshape(64, -1)
    np.testing.assert_allclose(weight @ weight.T, 2.0 * np.eye(64), atol=1e-4)


def test_fast_neural_style():
    pt, tr = pair("fast_neural_style")
    net_pt, net_tr = pt.TransformerNet(), tr.TransformerNet()
    vgg_pt, vgg_tr = pt.Vgg16(requires_grad=False), tr.Vgg16(requires_grad=False)
    copy_weights(net_pt, net_tr)
    copy_weights(vgg_pt, vgg_tr)
    assert not any(p.requires_grad for p in vgg_tr.parameters())
    losses_pt = pt.train(net_pt, vgg_pt)
    losses_tr = tr.train(net_tr, vgg_tr)
    assert_close(losses_tr, losses_pt, rtol=2e-3)
    assert losses_tr[-1] < losses_tr[0]


def test_dcgan():
    pt, tr = pair("dcgan")
    (g_pt, d_pt), (g_tr, d_tr) = pt.build(), tr.build()
    for module in (*g_tr.modules(), *d_tr.modules()):  # trainer's own weights_init: N(0, 0.02) conv weights
        if "Conv" in type(module).__name__:
            assert abs(float(module.weight.std()) - 0.02) < 0.01
    copy_weights(g_pt, g_tr)
    copy_weights(d_pt, d_tr)
    noises = np.random.default_rng(1).standard_normal((2, 4, 8, 1, 1)).astype(np.float32)
    history_pt = pt.main(g_pt, d_pt, noises)
    history_tr = tr.main(g_tr, d_tr, noises)
    assert_close(np.ravel(history_tr), np.ravel(history_pt), rtol=1e-3)


@pytest.mark.parametrize("flash", [True, False])
def test_nanogpt(flash):
    pt, tr = pair("nanogpt")
    model_pt, model_tr = pt.build(flash), tr.build(flash)
    assert model_tr.transformer.wte.weight is model_tr.lm_head.weight
    copy_weights(model_pt, model_tr)
    history_pt = pt.train(model_pt)
    history_tr = tr.train(model_tr)
    assert_close(history_tr, history_pt, rtol=1e-3)
    tokens = tr.sample(model_tr)
    assert len(tokens) == 6 and all(0 <= t < 32 for t in tokens)
    history = tr.train(tr.build(flash, dropout=0.1), max_iters=8)  # with dropout
    assert history[-1] < history[0]


def test_siamese_network():
    pt, tr = pair("siamese_network")
    model_pt, model_tr = pt.SiameseNetwork(), tr.SiameseNetwork()
    assert list(model_tr.state_dict()) == list(model_pt.state_dict())
    copy_weights(model_pt, model_tr)
    losses_pt, tests_pt = pt.main(model_pt)
    losses_tr, tests_tr = tr.main(model_tr)
    # float32 rounding, amplified by Adadelta's eps-sized first steps on BatchNorm'd features (in float64 the
    # two libraries agree to 1e-12 over the same steps)
    assert_close(losses_tr, losses_pt, rtol=1e-2)
    assert_close(np.ravel(tests_tr), np.ravel(tests_pt), rtol=1e-2)


def test_cifar10_tutorial(tmp_path):
    pt, tr = pair("cifar10_tutorial")
    model_pt, model_tr = pt.Net(), tr.Net()
    copy_weights(model_pt, model_tr)
    (tmp_path / "pt").mkdir()
    (tmp_path / "tr").mkdir()
    result_pt = pt.main(model_pt, tmp_path / "pt")
    result_tr = tr.main(model_tr, tmp_path / "tr")
    assert_close(result_tr[0], result_pt[0], rtol=1e-3)
    assert result_tr[1:] == result_pt[1:]  # accuracy and the per-class counts (tensors as dict keys' indices)
    assert result_tr[0][-1] < result_tr[0][0]


def test_spatial_transformer_tutorial():
    pt, tr = pair("spatial_transformer_tutorial")
    model_pt, model_tr = pt.Net(), tr.Net()
    copy_weights(model_pt, model_tr)
    rng = np.random.default_rng(0)
    with pt.torch.no_grad():  # turn the identity transform into a real warp, the same in both
        model_pt.fc_loc[2].bias.add_(pt.torch.from_numpy(rng.normal(0, 0.2, 6).astype(np.float32)))
    copy_weights(model_pt, model_tr)
    x = rng.normal(size=(3, 1, 28, 28)).astype(np.float32)
    target = np.array([1, 4, 7])
    outputs = []
    for lib, model in ((pt, model_pt), (tr, model_tr)):
        model.eval()
        loss = lib.F.nll_loss(model(lib.torch.from_numpy(x)), lib.torch.from_numpy(target))
        loss.backward()
        outputs.append([loss.item(), *as_numpy(model.fc_loc[2].weight.grad).ravel()[:12]])
    assert_close(outputs[1], outputs[0], rtol=1e-3, atol=1e-6)
    test_losses = tr.main(tr.Net())
    assert test_losses[-1] < test_losses[0]


def test_legacy_size_average():
    import trainer

    output, target = trainer.randn(4, 3).log_softmax(1), trainer.tensor([0, 1, 2, 0])
    assert trainer.nn.functional.nll_loss(output, target, size_average=False).item() == pytest.approx(
        trainer.nn.functional.nll_loss(output, target, reduction="sum").item())


def test_gcn():
    pt, tr = pair("gcn")
    graph_pt, graph_tr = pt.load_graph(), tr.load_graph()  # sparse features and adjacency, dense labels
    for theirs, ours in zip(graph_pt, graph_tr):
        assert ours.is_sparse == theirs.is_sparse
        np.testing.assert_allclose(as_numpy(ours.to_dense()), as_numpy(theirs.to_dense()), rtol=1e-6)
    n_features, n_classes = graph_pt[0].shape[1], int(graph_pt[1].max()) + 1
    model_pt = without_dropout(pt.GCN(n_features, 16, n_classes, False))
    model_tr = without_dropout(tr.GCN(n_features, 16, n_classes, False))
    copy_weights(model_pt, model_tr)
    idx = np.random.default_rng(0).permutation(len(graph_pt[1]))
    losses_pt, test_pt = pt.main(model_pt, pt.torch.tensor(idx))
    losses_tr, test_tr = tr.main(model_tr, tr.torch.tensor(idx))
    assert_close(losses_tr, losses_pt, rtol=1e-4)
    assert_close([test_tr], [test_pt], rtol=1e-4)
    assert losses_tr[-1] < losses_tr[0]
    losses, _ = tr.main()  # with dropout and the program's own split: it still learns
    assert losses[-1] < losses[0]


def test_char_rnn_classification_tutorial():
    pt, tr = pair("char_rnn_classification_tutorial")
    model_pt = pt.RNN(pt.n_letters, 32, pt.n_categories)
    model_tr = tr.RNN(tr.n_letters, 32, tr.n_categories)
    copy_weights(model_pt, model_tr)
    losses_pt, confusion_pt = pt.main(model_pt)
    losses_tr, confusion_tr = tr.main(model_tr)
    assert_close(losses_tr, losses_pt, rtol=1e-4)
    np.testing.assert_allclose(confusion_tr, confusion_pt)
    assert losses_tr[-1] < losses_tr[0]


def test_seq2seq_translation_tutorial():
    pt, tr = pair("seq2seq_translation_tutorial")
    (enc_pt, dec_pt), (enc_tr, dec_tr) = pt.build(), tr.build()
    for ours, theirs in ((enc_tr, enc_pt), (dec_tr, dec_pt)):
        without_dropout(theirs)
        without_dropout(ours)
        copy_weights(theirs, ours)
    # one batch holding every pair: RandomSampler's order then cannot change the (mean) loss
    losses_pt, words_pt = pt.main(enc_pt, dec_pt)
    losses_tr, words_tr = tr.main(enc_tr, dec_tr)
    assert_close(losses_tr, losses_pt, rtol=1e-3)
    assert words_tr == words_pt
    losses, _ = tr.main(*tr.build(), n_epochs=6, batch_size=8)  # shuffled mini-batches, with dropout
    assert losses[-1] < losses[0]
