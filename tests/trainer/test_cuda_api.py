"""``trainer.cuda``'s API: without a GPU it behaves as PyTorch's CPU-only build (same values, same exception types,
with a message that says how to install the CUDA extra); on a GPU (marked ``cuda``) it reports CuPy's figures."""

import collections
import warnings

import numpy as np
import pytest
import torch

import trainer
from trainer.backend import cupy_available

without_cuda = pytest.mark.skipif(cupy_available() or torch.cuda.is_available(),
                                  reason="compares with PyTorch's CPU-only build on a machine without CUDA")
INSTALL_HINT = r"pip install 'sardonyx\[cuda12\]'"


def _outcome(call, lib):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return "returns", call(lib)
    except Exception as exc:  # the exception itself is what is compared
        return "raises", exc


CALLS = {
    "empty_cache": lambda lib: lib.cuda.empty_cache(),
    "memory_allocated": lambda lib: lib.cuda.memory_allocated(),
    "memory_allocated(0)": lambda lib: lib.cuda.memory_allocated(0),
    "memory_allocated('cuda:1')": lambda lib: lib.cuda.memory_allocated("cuda:1"),
    "memory_reserved": lambda lib: lib.cuda.memory_reserved(),
    "max_memory_allocated": lambda lib: lib.cuda.max_memory_allocated(),
    "max_memory_reserved": lambda lib: lib.cuda.max_memory_reserved(),
    "memory_stats": lambda lib: lib.cuda.memory_stats(),
    "reset_peak_memory_stats": lambda lib: lib.cuda.reset_peak_memory_stats(),
    "memory_summary": lambda lib: lib.cuda.memory_summary(),
    "mem_get_info": lambda lib: lib.cuda.mem_get_info(),
    "get_device_name": lambda lib: lib.cuda.get_device_name(),
    "get_device_name(0)": lambda lib: lib.cuda.get_device_name(0),
    "get_device_properties(0)": lambda lib: lib.cuda.get_device_properties(0),
    "get_device_capability": lambda lib: lib.cuda.get_device_capability(),
    "is_initialized": lambda lib: lib.cuda.is_initialized(),
    "is_available": lambda lib: lib.cuda.is_available(),
    "device_count": lambda lib: lib.cuda.device_count(),
    "current_device": lambda lib: lib.cuda.current_device(),
    "synchronize": lambda lib: lib.cuda.synchronize(),
    "set_device(0)": lambda lib: lib.cuda.set_device(0),
    "set_device(-1)": lambda lib: lib.cuda.set_device(-1),
    "seed": lambda lib: lib.cuda.seed(),
    "seed_all": lambda lib: lib.cuda.seed_all(),
    "manual_seed": lambda lib: lib.cuda.manual_seed(3),
    "manual_seed_all": lambda lib: lib.cuda.manual_seed_all(3),
    "manual_seed('a')": lambda lib: lib.cuda.manual_seed("a"),
    "initial_seed": lambda lib: lib.cuda.initial_seed(),
    "get_rng_state": lambda lib: lib.cuda.get_rng_state(),
    "get_rng_state('cuda:1')": lambda lib: lib.cuda.get_rng_state("cuda:1"),
    "set_rng_state": lambda lib: lib.cuda.set_rng_state(lib.zeros(4, dtype=lib.uint8)),
    "get_rng_state_all": lambda lib: lib.cuda.get_rng_state_all(),
    "set_rng_state_all": lambda lib: lib.cuda.set_rng_state_all([lib.zeros(4, dtype=lib.uint8)]),
    "Stream": lambda lib: lib.cuda.Stream(),
    "Stream(priority=-1)": lambda lib: lib.cuda.Stream(priority=-1),
    "Event": lambda lib: lib.cuda.Event(),
    "Event(enable_timing=True)": lambda lib: lib.cuda.Event(enable_timing=True),
    "current_stream": lambda lib: lib.cuda.current_stream(),
    "default_stream": lambda lib: lib.cuda.default_stream(),
    "is_bf16_supported": lambda lib: lib.cuda.is_bf16_supported(),
    "is_bf16_supported(False)": lambda lib: lib.cuda.is_bf16_supported(including_emulation=False),
    "is_tf32_supported": lambda lib: lib.cuda.is_tf32_supported(),
    "get_arch_list": lambda lib: lib.cuda.get_arch_list(),
    "utilization": lambda lib: lib.cuda.utilization(),
    "FloatTensor(2)": lambda lib: lib.cuda.FloatTensor(2),
    "LongTensor()": lambda lib: lib.cuda.LongTensor(),
    "isinstance FloatTensor": lambda lib: isinstance(lib.zeros(2), lib.cuda.FloatTensor),
    "repr LongTensor": lambda lib: repr(lib.cuda.LongTensor),
    "FloatTensor.is_cuda": lambda lib: lib.cuda.FloatTensor.is_cuda,
    "OutOfMemoryError is a RuntimeError": lambda lib: issubclass(lib.cuda.OutOfMemoryError, RuntimeError),
    "enter device(0)": lambda lib: lib.cuda.device(0).__enter__(),
    "enter device('cuda:1')": lambda lib: lib.cuda.device("cuda:1").__enter__(),
    "enter device(-1)": lambda lib: lib.cuda.device(-1).__enter__(),
    "device('cpu')": lambda lib: lib.cuda.device("cpu"),
    "enter device_of(cpu tensor)": lambda lib: lib.cuda.device_of(lib.zeros(1)).__enter__(),
    "enter stream(None)": lambda lib: lib.cuda.stream(None).__enter__(),
}


@without_cuda
@pytest.mark.parametrize("name", list(CALLS))
def test_without_cuda_matches_pytorch_cpu_build(name):
    torch_kind, torch_result = _outcome(CALLS[name], torch)
    kind, result = _outcome(CALLS[name], trainer)
    assert kind == torch_kind, f"PyTorch {torch_kind} {torch_result!r}, trainer {kind} {result!r}"
    if kind == "raises":
        assert type(result) is type(torch_result)
        if "Torch not compiled" in str(torch_result) or "CUDA support" in str(torch_result):
            assert "pip install 'sardonyx[cuda12]'" in str(result.args[0])
    else:
        assert result == torch_result
        assert type(result) is type(torch_result)


@without_cuda
def test_calls_that_need_a_device_say_how_to_install_cuda():
    for call in (trainer.cuda.current_device, trainer.cuda.get_device_properties, trainer.cuda.initial_seed):
        with pytest.raises(AssertionError, match=INSTALL_HINT):
            call()
    for call in (trainer.cuda.Stream, trainer.cuda.Event, trainer.cuda.device(0).__enter__):
        with pytest.raises(RuntimeError, match=INSTALL_HINT):
            call()
    with pytest.raises(AttributeError, match=INSTALL_HINT):
        trainer.cuda.reset_peak_memory_stats()
    with pytest.raises(TypeError, match=r"torch.cuda.DoubleTensor not available: .*" + INSTALL_HINT):
        trainer.cuda.DoubleTensor([1.0])


@without_cuda
def test_without_cuda_seeding_leaves_the_cpu_generator_alone():
    trainer.manual_seed(0)
    expected = trainer.rand(3)
    trainer.manual_seed(0)
    trainer.cuda.manual_seed(5)
    trainer.cuda.seed_all()
    np.testing.assert_array_equal(trainer.rand(3).numpy(), expected.numpy())


def test_set_rng_state_refuses_a_non_tensor():
    # PyTorch fails with an AttributeError (it calls .clone() on the argument); a TypeError says what was wrong
    with pytest.raises(TypeError, match="uint8 tensor"):
        trainer.cuda.set_rng_state([1, 2])


def test_device_context_rejects_a_cpu_device_like_pytorch():
    with pytest.raises(ValueError, match="Expected a cuda device, but got: cpu"):
        torch.cuda.device("cpu")
    with pytest.raises(ValueError, match="Expected a cuda device, but got: cpu"):
        trainer.cuda.device("cpu")


def test_amp_submodule_still_imports():
    from trainer.cuda.amp import GradScaler

    assert GradScaler is trainer.cuda.amp.GradScaler


# ---- on a GPU: CuPy's figures -------------------------------------------------------------------------------------


@pytest.mark.cuda
def test_memory_figures_follow_the_pool():
    x = trainer.zeros(1 << 20, device="cuda")  # 4 MiB, a block of its own in the pool
    with_x, reserved = trainer.cuda.memory_allocated(), trainer.cuda.memory_reserved()
    assert with_x >= x.numel() * 4 and reserved >= with_x
    stats = trainer.cuda.memory_stats()
    assert isinstance(stats, collections.OrderedDict)
    assert stats["allocated_bytes.all.current"] == trainer.cuda.memory_allocated(0)
    assert stats["reserved_bytes.all.current"] == trainer.cuda.memory_reserved("cuda:0")
    assert "Allocated memory" in trainer.cuda.memory_summary()
    del x
    assert trainer.cuda.memory_allocated() <= with_x - 4 * 2**20
    trainer.cuda.empty_cache()
    assert trainer.cuda.memory_allocated() <= trainer.cuda.memory_reserved() <= reserved - 4 * 2**20
    free, total = trainer.cuda.mem_get_info()
    assert 0 < free <= total
    with pytest.raises(NotImplementedError, match="no peak"):
        trainer.cuda.max_memory_allocated()


@pytest.mark.cuda
def test_device_properties_and_context():
    props = trainer.cuda.get_device_properties(0)
    assert trainer.cuda.get_device_name(0) == props.name and props.name
    assert trainer.cuda.get_device_capability(0) == (props.major, props.minor)
    assert props.name in repr(props) and props.multi_processor_count > 0
    assert trainer.cuda.is_bf16_supported() == (props.major >= 8) == trainer.cuda.is_tf32_supported()
    assert trainer.cuda.get_arch_list() and all(a.startswith("sm_") for a in trainer.cuda.get_arch_list())
    trainer.zeros(1, device="cuda")
    assert trainer.cuda.is_initialized()
    with trainer.cuda.device(0):
        assert trainer.cuda.current_device() == 0
    with trainer.cuda.device_of(trainer.zeros(1, device="cuda:0")):
        assert trainer.cuda.current_device() == 0
    trainer.cuda.synchronize()


@pytest.mark.cuda
def test_streams_and_events():
    side = trainer.cuda.Stream()
    assert trainer.cuda.default_stream().cuda_stream == 0 and side.cuda_stream != 0
    start, end = trainer.cuda.Event(enable_timing=True), trainer.cuda.Event(enable_timing=True)
    with trainer.cuda.stream(side):
        assert trainer.cuda.current_stream() == side
        start.record()
        y = (trainer.ones(256, 256, device="cuda") @ trainer.ones(256, 256, device="cuda")).sum()
        end.record()
    assert trainer.cuda.current_stream() != side
    trainer.cuda.current_stream().wait_stream(side)
    end.synchronize()
    assert end.query() and side.query()
    assert start.elapsed_time(end) >= 0.0
    assert y.item() == 256.0**3
    marker = side.record_event()
    marker.wait(trainer.cuda.default_stream())
    side.synchronize()


@pytest.mark.cuda
def test_rng_state_round_trip_and_seeds():
    trainer.cuda.manual_seed(5)
    assert trainer.cuda.initial_seed() == 5
    state = trainer.cuda.get_rng_state()
    first = trainer.randn(5, device="cuda").cpu().numpy()
    trainer.cuda.set_rng_state(state)
    np.testing.assert_array_equal(trainer.randn(5, device="cuda").cpu().numpy(), first)
    assert len(trainer.cuda.get_rng_state_all()) == trainer.cuda.device_count()
    trainer.cuda.seed_all()
    assert trainer.cuda.initial_seed() != 5


@pytest.mark.cuda
def test_legacy_cuda_types_build_cuda_tensors():
    x = trainer.cuda.FloatTensor(2, 3)
    assert x.device.type == "cuda" and x.dtype is trainer.float32 and tuple(x.shape) == (2, 3)
    assert isinstance(x, trainer.cuda.FloatTensor) and not isinstance(x, trainer.FloatTensor)
    assert not isinstance(trainer.zeros(2), trainer.cuda.FloatTensor)
    np.testing.assert_array_equal(trainer.cuda.LongTensor([1, 2]).cpu().numpy(), [1, 2])
