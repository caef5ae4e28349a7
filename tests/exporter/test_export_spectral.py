"""Spectral front-ends exported to ONNX: ``trainer.fft``, ``stft``/``istft`` and complex elementwise ops, with complex
values carried as (real, imag) pairs through ``DFT`` nodes, run in ONNX Runtime and serving against the trainer's
outputs (at other batch sizes and signal lengths where the axes are dynamic); and the clear errors for what ONNX
cannot carry."""

import warnings

import numpy as np
import onnx
import pytest

import trainer
from exporter import export
from exporter.errors import ExportError, OpsetError, UnsupportedOpError
from exporter.verify import expected_outputs, run_exported
from tests.exporter.function_module import Fn
from trainer.ops.fft_ops import FourierC2R, FourierR2C

N_FFT, HOP = 16, 4


def _close_to_trainer(model, example, runtime, path, *, dynamic=None, variants=(), rtol=2e-5, **export_kwargs):
    """Export ``model`` on ``example``, then check every output on it and on each variant shape: same shape and
    dtype as the trainer's, values within ``rtol`` of the largest magnitude (float32 transforms sum many terms)."""
    model.eval()
    axes = {"input": {axis: f"dim{axis}" for axis in dynamic}} if dynamic else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stft's and export's advice
        proto = export(model, example, path, dynamic_axes=axes, **export_kwargs)
    for inputs in [example, *(trainer.randn(*shape, dtype=example.dtype) for shape in variants)]:
        expected = expected_outputs(model, inputs)
        got = run_exported(runtime, path, {"input": inputs.numpy()})
        assert len(got) == len(expected)
        for e, g in zip(expected, got):
            assert g.shape == e.shape and g.dtype == e.dtype, f"{runtime}: {g.shape} {g.dtype} for {e.shape} {e.dtype}"
            scale = max(1.0, float(np.abs(e).max()))
            np.testing.assert_allclose(g, e, rtol=0, atol=rtol * scale, err_msg=f"{runtime}, input {inputs.shape}")
    return proto


def _assert_real_graph_with_dft(proto):
    """The graph computes through DFT nodes and holds no complex tensor anywhere (ONNX ops have none)."""
    assert "DFT" in {n.op_type for n in proto.graph.node}
    complex_types = {onnx.TensorProto.COMPLEX64, onnx.TensorProto.COMPLEX128}
    typed = [*proto.graph.input, *proto.graph.output, *proto.graph.value_info]
    assert not [v.name for v in typed if v.type.tensor_type.elem_type in complex_types]
    assert not [t.name for t in proto.graph.initializer if t.data_type in complex_types]


def _hann():
    return trainer.hann_window(N_FFT)


class PowerSpectrogram(trainer.nn.Module):
    """|stft|^2 frames, each mapped to 8 features by a Linear layer."""

    def __init__(self):
        super().__init__()
        self.register_buffer("window", _hann())
        self.proj = trainer.nn.Linear(N_FFT // 2 + 1, 8)

    def forward(self, x):
        spec = trainer.stft(x, N_FFT, HOP, window=self.window, return_complex=True)
        return self.proj((spec.abs() ** 2).transpose(1, 2))


class LogMel(trainer.nn.Module):
    """A log-mel-like front end: power spectrum times a (non-negative) filter bank, log, then a Linear."""

    def __init__(self, mels=6):
        super().__init__()
        self.register_buffer("window", _hann())
        self.register_buffer("filters", trainer.rand(N_FFT // 2 + 1, mels))
        self.head = trainer.nn.Linear(mels, 3)

    def forward(self, x):
        spec = trainer.stft(x, N_FFT, HOP, window=self.window, return_complex=True, normalized=True)
        power = trainer.view_as_real(spec).pow(2).sum(-1)  # |z|^2 through the (real, imag) pairs
        mel = power.transpose(1, 2) @ self.filters
        return self.head((mel + 1e-6).log())


class ComplexScale(trainer.nn.Module):
    """A complex parameter (an initializer of real pairs) multiplying a spectrum."""

    def __init__(self, bins):
        super().__init__()
        self.gain = trainer.nn.Parameter(trainer.complex(trainer.randn(bins), trainer.randn(bins)))

    def forward(self, x):
        return trainer.fft.irfft(trainer.fft.rfft(x) * self.gain, n=x.shape[-1])


def test_rfft_magnitude_runs_at_any_batch_and_length(runtime, tmp_path):
    trainer.manual_seed(0)
    proto = _close_to_trainer(Fn(lambda x: trainer.fft.rfft(x).abs()), trainer.randn(2, 64), runtime,
                              tmp_path / "m.onnx", dynamic=[0, 1], variants=[(1, 64), (5, 100), (3, 33)])
    _assert_real_graph_with_dft(proto)


def test_stft_power_spectrogram_with_a_linear_layer(runtime, tmp_path):
    trainer.manual_seed(0)
    proto = _close_to_trainer(PowerSpectrogram(), trainer.randn(2, 80), runtime, tmp_path / "m.onnx",
                              dynamic=[0, 1], variants=[(1, 80), (3, 120)])
    _assert_real_graph_with_dft(proto)
    assert "window" in {t.name for t in proto.graph.initializer}  # the buffer, named by its state_dict key


def test_log_mel_front_end_with_a_matmul(runtime, tmp_path):
    trainer.manual_seed(0)
    _close_to_trainer(LogMel(), trainer.randn(2, 96), runtime, tmp_path / "m.onnx", dynamic=[0], variants=[(4, 96)])


def test_complex_parameter_becomes_an_initializer_of_pairs(runtime, tmp_path):
    trainer.manual_seed(0)
    # unfolded: folding would compute the parameter's parts into constants of their own
    proto = _close_to_trainer(ComplexScale(33), trainer.randn(3, 64), runtime, tmp_path / "m.onnx",
                              do_constant_folding=False)
    _assert_real_graph_with_dft(proto)
    gain = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}["gain"]
    assert gain.shape == (33, 2) and gain.dtype == np.float32


STFT_OUTPUTS = {
    "reflect": lambda x: trainer.view_as_real(trainer.stft(x, N_FFT, HOP, window=_hann(), return_complex=True)),
    "constant_normalized": lambda x: trainer.view_as_real(
        trainer.stft(x, N_FFT, HOP, window=_hann(), return_complex=True, pad_mode="constant", normalized=True)),
    "two_sided_not_centred": lambda x: trainer.view_as_real(
        trainer.stft(x, N_FFT, 5, window=trainer.hamming_window(12), win_length=12, center=False, onesided=False,
                     return_complex=True)),
    "one_signal": lambda x: trainer.stft(x[0], N_FFT, HOP, window=_hann(), return_complex=True).real,
    "istft": lambda x: trainer.istft(trainer.stft(x, N_FFT, HOP, window=_hann(), return_complex=True) * 0.5, N_FFT,
                                     HOP, window=_hann(), length=x.shape[-1]),
}


@pytest.mark.parametrize("name", sorted(STFT_OUTPUTS))
def test_stft_variants_and_istft(name, runtime, tmp_path):
    trainer.manual_seed(0)
    _close_to_trainer(Fn(STFT_OUTPUTS[name]), trainer.randn(2, 64), runtime, tmp_path / "m.onnx")


FFT_OUTPUTS = {
    "fft_ifft_along_a_dim": lambda x: trainer.view_as_real(trainer.fft.ifft(trainer.fft.fft(x, dim=0), norm="ortho")),
    "rfft_cropped_and_padded": lambda x: (trainer.view_as_real(trainer.fft.rfft(x, n=30, norm="forward")),
                                          trainer.fft.rfft(x, n=90).abs()),
    "irfft_even_and_odd": lambda x: (trainer.fft.irfft(trainer.fft.rfft(x)),
                                     trainer.fft.irfft(trainer.fft.rfft(x), n=51, norm="ortho")),
    "fft2_rfft2_irfft2": lambda x: (trainer.view_as_real(trainer.fft.fft2(x)),
                                    trainer.view_as_real(trainer.fft.rfft2(x)),
                                    trainer.fft.irfft2(trainer.fft.rfft2(x), s=(x.shape[0], 20))),
    "hfft_ihfft": lambda x: trainer.fft.hfft(trainer.fft.ihfft(x)),
    # the middle-bin weightings the transforms' adjoints (their gradients) apply
    "adjoint_weightings": lambda x: (
        trainer.view_as_real(FourierR2C.apply(x, dims=(1,), scale=0.5, doubled=True, conjugate=True)),
        FourierC2R.apply(trainer.fft.rfft(x), dims=(0, 1), length=64, scale=0.25, halved=True)),
}


@pytest.mark.parametrize("name", sorted(FFT_OUTPUTS))
def test_fft_transforms_with_n_dim_and_norm(name, runtime, tmp_path):
    trainer.manual_seed(0)
    _close_to_trainer(Fn(FFT_OUTPUTS[name]), trainer.randn(3, 64), runtime, tmp_path / "m.onnx")


def _elementwise(x):
    z = trainer.complex(x, x.flip(-1))  # generic values: no angle sits on the branch cut
    s = trainer.fft.rfft(x, n=2 * x.shape[-1] - 2)  # as many bins as z has values
    mixed = (z * s + s - z / (s + 1.0)) * (1 - 2j)
    pairs = trainer.view_as_complex(trainer.stack([x, -x], -1))
    return (z.real, z.imag, z.angle(), x.angle(), z.abs() ** 2, trainer.view_as_real(mixed),
            trainer.view_as_real(-z.conj()), trainer.view_as_real(pairs * z),
            trainer.view_as_real(trainer.complex(x, x[:1])))


def _layout(x):
    s = trainer.fft.rfft(x)
    moved = s.transpose(0, 1).reshape(-1)[3:].unsqueeze(0).flip(1)
    return (trainer.view_as_real(moved), trainer.view_as_real(trainer.cat([s, s.conj()], 1).mean(0)),
            trainer.view_as_real(s[:, 1:-1].unsqueeze(-1).squeeze(-1)))


def _per_part(x):
    """Ops exported as their real lowering on each part."""
    s = trainer.fft.rfft(x)
    head, tail = s.split([2, 3], dim=1)
    picked = (s.sum(0), trainer.where(x[:, :5] > 0, s, s.conj()), head, tail, s.unbind(1)[1], s.roll(1, 1),
              s[:, None].expand(-1, 2, 5), s[:, trainer.tensor([0, 2])], s.unfold(1, 2, 1), trainer.stack([s, s], 0))
    return tuple(trainer.view_as_real(t) for t in picked)


@pytest.mark.parametrize("fn", [_elementwise, _layout, _per_part], ids=["elementwise", "layout", "per_part"])
def test_complex_elementwise_and_layout_ops(fn, runtime, tmp_path):
    trainer.manual_seed(0)
    proto = _close_to_trainer(Fn(fn), trainer.randn(3, 9), runtime, tmp_path / "m.onnx", dynamic=[0],
                              variants=[(5, 9)])
    _assert_real_graph_with_dft(proto)


def test_float64_spectrum_stays_float64(runtime, tmp_path):
    trainer.manual_seed(0)
    window = trainer.hann_window(N_FFT, dtype=trainer.float64)
    fn = Fn(lambda x: trainer.stft(x, N_FFT, HOP, window=window, return_complex=True).abs())
    _close_to_trainer(fn, trainer.randn(2, 64, dtype=trainer.float64), runtime, tmp_path / "m.onnx", rtol=1e-10)


def test_complex_constant_stored_as_the_same_bytes_as_a_real_one(runtime, tmp_path):
    # the complex scalar 2 is stored as the pairs [2, 0], the bytes of the real constant [2, 0]: one initializer
    fn = Fn(lambda x: (x[:, :2] + trainer.tensor([2.0, 0.0]), trainer.view_as_real(trainer.fft.rfft(x) * 2.0)))
    _close_to_trainer(fn, trainer.randn(2, 8), runtime, tmp_path / "m.onnx")


@pytest.mark.parametrize("opset", [17, 19])
def test_dft_before_opset_20_takes_its_axis_as_an_attribute(opset, tmp_path):
    proto = export(Fn(lambda x: trainer.fft.irfft(trainer.fft.rfft(x, dim=0), dim=0)).eval(), trainer.randn(6, 3),
                   tmp_path / "m.onnx", opset_version=opset)
    dfts = [n for n in proto.graph.node if n.op_type == "DFT"]
    assert dfts and all(len(n.input) == 1 and any(a.name == "axis" and a.i == 0 for a in n.attribute) for n in dfts)


# ----------------------------------------------------------------- errors
def _export(fn, example, path, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export(Fn(fn).eval(), example, path, **kwargs)


def test_complex_output_is_refused_with_the_way_around(tmp_path):
    with pytest.raises(ExportError, match=r"output 'spectrum' is a complex tensor .*view_as_real"):
        export(Fn(lambda x: trainer.fft.rfft(x)).eval(), trainer.randn(2, 8), tmp_path / "m.onnx",
               output_names=["spectrum"])


def test_complex_input_is_refused_with_the_way_around(tmp_path):
    z = trainer.complex(trainer.randn(4), trainer.randn(4))
    with pytest.raises(ExportError, match=r"input 'input' is a complex tensor .*view_as_real.*view_as_complex"):
        _export(lambda z: z.abs(), z, tmp_path / "m.onnx")


@pytest.mark.parametrize("name,fn", [("Pow", lambda x: trainer.view_as_real(trainer.fft.rfft(x) ** 2)),
                                     ("MatMul", lambda x: (trainer.fft.rfft(x) @ trainer.fft.rfft(x).T).real),
                                     ("Exp", lambda x: trainer.fft.rfft(x).exp().imag)])
def test_an_op_on_complex_values_without_a_lowering_is_named(name, fn, tmp_path):
    with pytest.raises(UnsupportedOpError, match=f"trainer op {name} .* on a complex tensor has no ONNX lowering"):
        _export(fn, trainer.randn(2, 8), tmp_path / "m.onnx")


def test_transforms_need_opset_17(tmp_path):
    with pytest.raises(OpsetError, match="FourierR2C needs ONNX DFT, which needs opset >= 17.*opset_version=17"):
        _export(lambda x: trainer.fft.rfft(x).abs(), trainer.randn(2, 8), tmp_path / "m.onnx", opset_version=16)


def test_default_norm_inverse_writes_no_scale_node(tmp_path):
    # ONNX's inverse DFT already divides by n: nothing to multiply, so the graph holds at every length
    proto = export(Fn(lambda x: trainer.fft.ifft(trainer.fft.fft(x)).real).eval(), trainer.randn(2, 10),
                   tmp_path / "m.onnx")
    assert "Mul" not in {n.op_type for n in proto.graph.node}
    assert sum(n.op_type == "DFT" for n in proto.graph.node) == 2
