"""More of pytorch/examples run with ``import trainer as torch`` and with torch itself: gat, vision_transformer,
language_translation, mnist_forward_forward, imagenet's training loop, the DDP tutorial series on gloo, and the
reinforcement-learning programs on a stand-in environment.

As in test_pytorch_examples.py: the two libraries start from the same weights (copied from torch) and must give
the same losses where a run is deterministic; where a program samples inside its loop, trainer's run must learn.
"""

import numpy as np
import pytest

import trainer
from tests.trainer.distributed_workers import free_port
from tests.trainer.examples.program_port import as_numpy, assert_close, copy_weights, load, pair, without_dropout


@pytest.mark.parametrize("concat", [False, True])
def test_gat(concat):
    pt, tr = pair("gat")
    model_pt = pt.GAT(12, 16, 4, 3, concat=concat, dropout=0.0)
    model_tr = tr.GAT(12, 16, 4, 3, concat=concat, dropout=0.0)
    copy_weights(model_pt, model_tr)
    idx = np.random.default_rng(0).permutation(40)
    losses_pt, test_pt = pt.main(model_pt, pt.torch.tensor(idx))
    losses_tr, test_tr = tr.main(model_tr, tr.torch.tensor(idx))
    assert_close(losses_tr, losses_pt, rtol=1e-4)
    assert_close([test_tr], [test_pt], rtol=1e-4)
    assert losses_tr[-1] < losses_tr[0]


def test_gat_learns_with_dropout():
    tr = load("gat", "trainer")
    losses, _ = tr.main()  # the program's own model (dropout 0.6) and split
    assert losses[-1] < losses[0]


def test_vision_transformer(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the program saves best-weights.pt in the working directory
    pt, tr = pair("vision_transformer")
    model_pt, model_tr = without_dropout(pt.ViT(pt.parse_args())), without_dropout(tr.ViT(tr.parse_args()))
    copy_weights(model_pt, model_tr)
    history_pt, history_tr = pt.main(model_pt), tr.main(model_tr)
    assert_close(np.ravel(history_tr), np.ravel(history_pt), rtol=1e-3)
    best = trainer.load(tmp_path / "best-weights.pt")
    assert list(best) == list(model_pt.state_dict())
    assert history_tr[-1][0] < history_tr[0][0]


def test_language_translation(tmp_path):
    pt, tr = pair("language_translation")
    model_pt, model_tr = without_dropout(pt.build()), without_dropout(tr.build())
    copy_weights(model_pt, model_tr)
    (tmp_path / "pt").mkdir()
    (tmp_path / "tr").mkdir()
    history_pt = pt.main(model_pt, logging_dir=tmp_path / "pt")
    history_tr = tr.main(model_tr, logging_dir=tmp_path / "tr")
    assert_close(np.ravel(history_tr), np.ravel(history_pt), rtol=1e-3)
    assert history_tr[-1][0] < history_tr[0][0]
    words = [5, 9, 6, 12]
    assert tr.translate(model_tr, words) == pt.translate(model_pt, words)  # greedy_decode: encode, decode, ff
    last = trainer.load(tmp_path / "tr" / "last.pt")
    np.testing.assert_array_equal(as_numpy(last["ff.weight"]), as_numpy(model_tr.ff.weight))


def test_mnist_forward_forward():
    pt, tr = pair("mnist_forward_forward")
    net_pt, net_tr = pt.Net([784, 64, 64]), tr.Net([784, 64, 64])
    for layer_pt, layer_tr in zip(net_pt.layers, net_tr.layers, strict=True):
        copy_weights(layer_pt, layer_tr)
    labels = pt.random_digits(pt.args.train_size, 0).tensors[1].numpy()
    y_neg = (labels + np.random.default_rng(3).integers(1, 10, labels.shape)) % 10  # a wrong label for each
    losses_pt, *errors_pt = pt.main(net_pt, pt.torch.tensor(y_neg))
    losses_tr, *errors_tr = tr.main(net_tr, tr.torch.tensor(y_neg))
    assert_close(np.ravel(losses_tr), np.ravel(losses_pt), rtol=1e-4)
    assert errors_tr == errors_pt
    losses, train_error, _ = tr.main()  # get_y_neg's own random wrong labels
    assert all(layer[-1] < layer[0] for layer in losses) and train_error < 0.9


def test_imagenet_training_loop(tmp_path, capsys):
    """Three epochs in torch; in trainer two, then a fresh run resuming from their checkpoint (weights, momentum,
    StepLR's state) for the third. float64 (the data follows the default dtype): in float32 a ResNet's BatchNorm on
    batches of 8 amplifies rounding until accuracies differ; in float64 the two libraries agree to 1e-12."""
    pt, tr = pair("imagenet")
    for lib in (pt.torch, tr.torch):
        lib.set_default_dtype(lib.float64)
    try:
        model_pt, model_tr = pt.build(), tr.build()
        copy_weights(model_pt, model_tr)
        (tmp_path / "pt").mkdir()
        (tmp_path / "tr").mkdir()
        history_pt = pt.main_worker(model_pt, tmp_path / "pt", lr=0.01)
        summaries_pt = [line for line in capsys.readouterr().out.splitlines() if line.startswith(" *")]
        history_tr = tr.main_worker(model_tr, tmp_path / "tr", lr=0.01, epochs=2)
        checkpoint = tmp_path / "tr" / "checkpoint.pth.tar"
        assert (tmp_path / "tr" / "model_best.pth.tar").exists()
        history_tr += tr.main_worker(tr.build(), tmp_path / "tr", lr=0.01, resume=str(checkpoint))
        summaries_tr = [line for line in capsys.readouterr().out.splitlines() if line.startswith(" *")]
        assert_close(np.ravel(history_tr), np.ravel(history_pt), rtol=1e-9)
        assert summaries_tr == summaries_pt and len(summaries_tr) == 3  # validate's Acc@1 and Acc@5 (top-5)
        assert history_tr[-1][0] < history_tr[0][0]
        assert trainer.load(checkpoint)["scheduler"]["last_epoch"] == 3
    finally:
        for lib in (pt.torch, tr.torch):
            lib.set_default_dtype(lib.float32)


def test_ddp_tutorial_series_on_two_ranks(tmp_path):
    """multinode.py's Trainer on 2 gloo ranks: each rank trains on its half of the data (DistributedSampler); rank 0
    saves a snapshot each epoch, and a second launch resumes from it. The program's model cannot learn: its
    cross_entropy over a single output class is 0 with 0 gradients, in PyTorch as in trainer."""
    tr = load("ddp_tutorial_series", "trainer")
    snapshot = str(tmp_path / "snapshot.pt")
    tr.launch(2, free_port(), 1, 2, 8, snapshot, str(tmp_path))
    ranks = [trainer.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    data = as_numpy(ranks[0]["data"])
    np.testing.assert_array_equal(as_numpy(ranks[1]["data"]), data)
    seen = np.concatenate([as_numpy(r["seen"]) for r in ranks])
    np.testing.assert_array_equal(np.unique(seen, axis=0), np.unique(data, axis=0))  # the halves cover the data
    assert all(len(r["losses"]) == 2 * 4 and float(r["losses"].abs().sum()) == 0 for r in ranks)
    np.testing.assert_array_equal(as_numpy(ranks[1]["weight"]), as_numpy(ranks[0]["weight"]))
    saved = trainer.load(snapshot)
    assert saved["EPOCHS_RUN"] == 1 and list(saved["MODEL_STATE"]) == ["weight", "bias"]
    np.testing.assert_array_equal(as_numpy(saved["MODEL_STATE"]["weight"]), as_numpy(ranks[0]["weight"]))
    tr.launch(2, free_port(), 1, 3, 8, snapshot, str(tmp_path))  # resumes at the snapshot's epoch 1
    ranks = [trainer.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    assert all(r["epochs_run"] == 1 and len(r["losses"]) == 2 * 4 for r in ranks)
    assert trainer.load(snapshot)["EPOCHS_RUN"] == 2


def _rl_episodes(lib, name, model, n_episodes=3):
    """finish_episode after fixed states and actions, as select_action would have saved them."""
    rng = np.random.default_rng(0)
    for _ in range(n_episodes):
        for state, action in zip(rng.uniform(-1, 1, (6, 4)), rng.integers(0, 2, 6), strict=True):
            if name == "reinforce":
                probs = model(lib.torch.from_numpy(state).float().unsqueeze(0))
                model.saved_log_probs.append(lib.Categorical(probs).log_prob(lib.torch.tensor([action])))
            else:
                probs, value = model(lib.torch.from_numpy(state).float())
                model.saved_actions.append(lib.SavedAction(lib.Categorical(probs).log_prob(lib.torch.tensor(action)),
                                                           value))
            model.rewards.append(1.0)
        lib.finish_episode()
    return [as_numpy(p) for p in model.parameters()]


@pytest.mark.parametrize("name", ["actor_critic", "reinforce"])
def test_reinforcement_learning(name):
    pt, tr = pair(name)
    model_pt, model_tr = (pt.policy, tr.policy) if name == "reinforce" else (pt.model, tr.model)
    model_pt.eval()  # reinforce's dropout off for the comparison
    model_tr.eval()
    copy_weights(model_pt, model_tr)
    for ours, theirs in zip(_rl_episodes(tr, name, model_tr), _rl_episodes(pt, name, model_pt), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)
    tr = load(name, "trainer")  # afresh: the program's seed, weights and optimizer
    rewards = tr.main(100)
    assert np.mean(rewards[-20:]) > 1.5 * np.mean(rewards[:20])
