"""``torch.ao.nn.quantized.dynamic`` recurrent layers: ``LSTM``, ``GRU``, ``LSTMCell``, ``GRUCell`` and ``RNNCell``,
float32 in and out, with the weights stored as qint8 (quantized once by ``from_float`` on the grid of the qconfig's
weight observer, per tensor or per output channel) or rounded to float16. The maths is in ``dynamic_rnn_kernels``.

The state_dict keys are PyTorch's: ``_all_weight_values.{k}.param`` per layer and direction (a ``CellParams``
where PyTorch has a ``CellParamsBase`` script object) and ``_packed_weight_ih``/``_packed_weight_hh`` for the cells
(a ``(weight, bias)`` pair where PyTorch has packed linear parameters, as the dynamic ``Linear`` does)."""

from __future__ import annotations

import trainer
from trainer import dtypes
from trainer import quantized_types as qt
from trainer.ao.nn.quantized.dynamic_kernels import round_weight_to_float16
from trainer.ao.nn.quantized.dynamic_rnn_kernels import (
    CellParams,
    dynamic_projection,
    gru_cell,
    lstm_cell,
    relu_cell,
    run_layers,
    tanh_cell,
)
from trainer.ao.nn.quantized.utils import _hide_packed_params_repr, _quantize_weight
from trainer.nn import functional as F
from trainer.nn.modules import rnn as float_rnn
from trainer.nn.modules.container import ModuleList
from trainer.nn.modules.module import Module
from trainer.nn.utils.rnn import PackedSequence
from trainer.tensor import Tensor

__all__ = ["GRU", "LSTM", "GRUCell", "LSTMCell", "PackedParameter", "RNNBase", "RNNCell", "RNNCellBase"]

_GATES = {"LSTM": 4, "GRU": 3}
_CELLS = {"LSTM": lstm_cell, "GRU": gru_cell}
_STATES = {"LSTM": 2, "GRU": 1}


def _check_weight_dtype(dtype) -> None:
    if dtype is not qt.qint8 and dtype is not dtypes.float16:
        raise RuntimeError(f"Unsupported dtype for dynamic RNN quantization: {dtype} (expected trainer.qint8 or "
                           "trainer.float16)")


def _pack(weight, bias) -> tuple:
    """A ``(weight, bias)`` pair as fbgemm packs it: a float weight is rounded to float16."""
    if not weight.is_quantized:
        weight = round_weight_to_float16(weight)
    return weight, None if bias is None else bias.detach().float()


def _initial_weight(rows: int, cols: int, dtype, scale: float):
    """PyTorch's placeholder weights: normal values, quantized on a fixed grid for qint8."""
    weight = trainer.randn(rows, cols)
    return trainer.quantize_per_tensor(weight, scale, 0, qt.qint8) if dtype is qt.qint8 else weight


def _weight_observer_factory(mod):
    """The qconfig's weight observer class (``default_dynamic_qconfig``'s when the qconfig has none) and the
    dtype it quantizes to."""
    if not hasattr(mod, "qconfig"):
        raise AssertionError("Input float module must have qconfig defined")
    if mod.qconfig is not None and mod.qconfig.weight is not None:
        factory = mod.qconfig.weight
    else:
        from trainer.ao.quantization.dynamic_qconfig import default_dynamic_qconfig

        factory = default_dynamic_qconfig.weight
    dtype = factory().dtype
    _check_weight_dtype(dtype)
    return factory, dtype


def _observe_and_quantize(weight, factory, dtype):
    """``weight`` quantized on the grid a fresh observer sees it with (qint8), or as float32 (float16)."""
    weight = weight.detach().float()
    if dtype is not qt.qint8:
        return weight
    observer = factory()
    observer(weight)
    return _quantize_weight(weight, observer)


class PackedParameter(Module):
    """Holds one layer and direction's ``CellParams``, saved in the state_dict as ``param``."""

    def __init__(self, param):
        super().__init__()
        self.param = param

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + "param"] = self.param

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        self.param = state_dict.pop(prefix + "param")
        super()._load_from_state_dict(state_dict, prefix, local_metadata, False, missing_keys, unexpected_keys,
                                      error_msgs)


class RNNBase(Module):
    """The layers and directions of a dynamically quantized LSTM or GRU, each a ``PackedParameter`` in
    ``_all_weight_values`` (layer-major, forward direction first)."""

    _FLOAT_MODULE = float_rnn.RNNBase
    _version = 2  # version 2 quantizes the inputs of int8 layers over 7 bits (reduce_range); older ones over 8

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, dtype=qt.qint8):
        super().__init__()
        float_rnn.check_rnn_arguments(mode, dropout, num_layers)
        if mode not in _GATES:  # the float layers' RNN_TANH/RNN_RELU have no dynamic version
            raise ValueError("Unrecognized RNN mode: " + mode)
        _check_weight_dtype(dtype)
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.dtype = dtype
        self.version = 2
        self.training = False
        gate_size = _GATES[mode] * hidden_size
        directions = 2 if bidirectional else 1
        values = []
        for layer in range(num_layers):
            layer_input_size = input_size if layer == 0 else hidden_size * directions
            for _ in range(directions):
                w_ih = _initial_weight(gate_size, layer_input_size, dtype, 0.1)
                w_hh = _initial_weight(gate_size, hidden_size, dtype, 0.1)
                b_ih, b_hh = (trainer.randn(gate_size) if bias else None for _ in range(2))
                values.append(PackedParameter(self._cell_params(w_ih, b_ih, w_hh, b_hh)))
        self._all_weight_values = ModuleList(values)

    def _cell_params(self, w_ih, b_ih, w_hh, b_hh) -> CellParams:
        reduce_range = self.version is not None and self.version >= 2
        return CellParams(_pack(w_ih, b_ih), _pack(w_hh, b_hh), reduce_range)

    def _get_name(self):
        return "DynamicQuantizedRNN"

    extra_repr = float_rnn.RNNBase.extra_repr

    def __repr__(self):
        return _hide_packed_params_repr(self, (PackedParameter, ModuleList))

    # ----------------------------------------------------------------- checks
    def check_input(self, input, batch_sizes) -> None:
        expected_dim = 2 if batch_sizes is not None else 3
        if input.dim() != expected_dim:
            raise RuntimeError(f"input must have {expected_dim} dimensions, got {input.dim()}")
        if self.input_size != input.size(-1):
            raise RuntimeError("input.size(-1) must be equal to input_size. "
                               f"Expected {self.input_size}, got {input.size(-1)}")

    get_expected_hidden_size = float_rnn.RNNBase.get_expected_hidden_size

    def check_hidden_size(self, hx, expected_hidden_size, msg: str = "Expected hidden size {}, got {}") -> None:
        if tuple(hx.shape) != tuple(expected_hidden_size):
            raise RuntimeError(msg.format(expected_hidden_size, list(hx.shape)))

    def check_forward_args(self, input, hidden, batch_sizes) -> None:
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))

    permute_hidden = float_rnn.RNNBase.permute_hidden

    # ----------------------------------------------------------------- weights
    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        # trainer's state_dicts carry no metadata: the layer keeps its version unless told (each loaded
        # CellParams carries its own reduce_range anyway)
        self.version = local_metadata.get("version", self.version)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, False, missing_keys, unexpected_keys,
                                      error_msgs)

    def _names(self):
        """``(layer, suffix)`` of each layer and direction, in ``_all_weight_values`` order."""
        suffixes = ("", "_reverse") if self.bidirectional else ("",)
        return [(layer, suffix) for layer in range(self.num_layers) for suffix in suffixes]

    def set_weight_bias(self, weight_bias_dict) -> None:
        """Repack from a flat dict of ``weight_ih_l{k}[_reverse]``, ``bias_ih_l{k}[_reverse]``, ... (qint8 or float
        weights, float biases)."""
        values = []
        for layer, suffix in self._names():
            w_ih, b_ih, w_hh, b_hh = (weight_bias_dict[f"{kind}_{side}_l{layer}{suffix}"]
                                      for side in ("ih", "hh") for kind in ("weight", "bias"))
            values.append(PackedParameter(self._cell_params(w_ih, b_ih, w_hh, b_hh)))
        self._all_weight_values = ModuleList(values)

    def _weight_bias(self) -> dict:
        """``{"weight": {name: weight}, "bias": {name: bias}}`` with PyTorch's parameter names."""
        result = {"weight": {}, "bias": {}}
        for (layer, suffix), packed in zip(self._names(), self._all_weight_values):
            for side, (weight, bias) in (("ih", packed.param.ih), ("hh", packed.param.hh)):
                result["weight"][f"weight_{side}_l{layer}{suffix}"] = weight
                result["bias"][f"bias_{side}_l{layer}{suffix}"] = bias
        return result

    def get_weight(self) -> dict:
        return self._weight_bias()["weight"]

    def get_bias(self) -> dict:
        return self._weight_bias()["bias"]

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """The dynamic layer for a float ``LSTM`` or ``GRU`` with a ``qconfig``: each weight passes through a fresh
        weight observer of the qconfig and is quantized on its grid (qint8), or rounded to float16."""
        if type(mod) not in (float_rnn.LSTM, float_rnn.GRU):
            raise AssertionError("nn.quantized.dynamic.RNNBase.from_float only works for nn.LSTM and nn.GRU")
        factory, dtype = _weight_observer_factory(mod)
        layer_class = LSTM if mod.mode == "LSTM" else GRU
        qrnn = layer_class(mod.input_size, mod.hidden_size, mod.num_layers, mod.bias, mod.batch_first, mod.dropout,
                           mod.bidirectional, dtype)
        if not mod.bias:
            raise AssertionError("mod.bias must be True")
        weights = {}
        for name, value in zip(mod._flat_weights_names, mod._flat_weights):
            weights[name] = _observe_and_quantize(value, factory, dtype) if name.startswith("weight") else value
        qrnn.set_weight_bias(weights)
        return qrnn

    # ----------------------------------------------------------------- running
    def _forward_impl(self, input, hx: list | None, batch_sizes, max_batch_size, sorted_indices):
        """``hx`` is the list of initial states (one for GRU, two for LSTM) or None; returns the output data and
        the list of final states, in the packed order for a packed input."""
        if hx is None:
            directions = 2 if self.bidirectional else 1
            zeros = trainer.zeros(self.num_layers * directions, max_batch_size, self.hidden_size, dtype=input.dtype,
                                  device=input.device)
            hx = [zeros] * _STATES[self.mode]
        else:
            hx = [self.permute_hidden(state, sorted_indices) for state in hx]
        self.check_forward_args(input, hx[0] if len(hx) == 1 else tuple(hx), batch_sizes)
        dropout = None
        if self.dropout and self.training:
            def dropout(x):
                return F.dropout(Tensor._wrap(x), self.dropout, True)._data
        x = input._data
        if self.batch_first and batch_sizes is None:
            x = x.swapaxes(0, 1)
        params = [packed.param for packed in self._all_weight_values]
        steps = None if batch_sizes is None else tuple(int(size) for size in batch_sizes.tolist())
        output, states = run_layers(_CELLS[self.mode], x, [state._data for state in hx], params, self.num_layers,
                                    self.bidirectional, dropout, steps)
        if self.batch_first and batch_sizes is None:
            output = output.swapaxes(0, 1)
        return Tensor._wrap(output), [Tensor._wrap(state) for state in states]

    def _forward(self, input, hx: list | None):
        """The output (a ``PackedSequence`` for a packed input) and the list of final states."""
        if isinstance(input, PackedSequence):
            data, batch_sizes, sorted_indices, unsorted_indices = input
            output, states = self._forward_impl(data, hx, batch_sizes, int(batch_sizes[0]), sorted_indices)
            output = PackedSequence(output, batch_sizes, sorted_indices, unsorted_indices)
        else:
            max_batch_size = input.size(0) if self.batch_first else input.size(1)
            output, states = self._forward_impl(input, hx, None, max_batch_size, None)
            unsorted_indices = None
        states = [self.permute_hidden(state, unsorted_indices) for state in states]
        return output, states


class LSTM(RNNBase):
    """A dynamically quantized ``nn.LSTM``: ``forward(input, (h_0, c_0)=None) -> (output, (h_n, c_n))``."""

    _FLOAT_MODULE = float_rnn.LSTM

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)

    def _get_name(self):
        return "DynamicQuantizedLSTM"

    def check_forward_args(self, input, hidden, batch_sizes) -> None:
        self.check_input(input, batch_sizes)
        expected = self.get_expected_hidden_size(input, batch_sizes)
        self.check_hidden_size(hidden[0], expected, "Expected hidden[0] size {}, got {}")
        self.check_hidden_size(hidden[1], expected, "Expected hidden[1] size {}, got {}")

    def forward(self, input, hx=None):
        output, (h_n, c_n) = self._forward(input, None if hx is None else list(hx))
        return output, (h_n, c_n)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        return super().from_float(mod, use_precomputed_fake_quant=use_precomputed_fake_quant)


class GRU(RNNBase):
    """A dynamically quantized ``nn.GRU``: ``forward(input, h_0=None) -> (output, h_n)``."""

    _FLOAT_MODULE = float_rnn.GRU

    def __init__(self, *args, **kwargs):
        super().__init__("GRU", *args, **kwargs)

    def _get_name(self):
        return "DynamicQuantizedGRU"

    def forward(self, input, hx=None):
        output, (h_n,) = self._forward(input, None if hx is None else [hx])
        return output, h_n

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        return super().from_float(mod, use_precomputed_fake_quant=use_precomputed_fake_quant)


class RNNCellBase(Module):
    """One dynamically quantized step; the weights live in ``_packed_weight_ih`` and ``_packed_weight_hh``."""

    def __init__(self, input_size, hidden_size, bias=True, num_chunks=4, dtype=qt.qint8):
        super().__init__()
        _check_weight_dtype(dtype)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_dtype = dtype
        biases = [trainer.randn(num_chunks * hidden_size) if bias else None for _ in range(2)]
        self._packed_weight_ih = _pack(_initial_weight(num_chunks * hidden_size, input_size, dtype, 1.0), biases[0])
        self._packed_weight_hh = _pack(_initial_weight(num_chunks * hidden_size, hidden_size, dtype, 1.0), biases[1])

    def _get_name(self):
        return "DynamicQuantizedRNNBase"

    extra_repr = float_rnn.RNNCellBase.extra_repr

    def check_forward_input(self, input) -> None:
        if input.size(1) != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.size(1)}, expected {self.input_size}")

    def check_forward_hidden(self, input, hx, hidden_label: str = "") -> None:
        if input.size(0) != hx.size(0):
            raise RuntimeError(f"Input batch size {input.size(0)} doesn't match hidden{hidden_label} batch size "
                               f"{hx.size(0)}")
        if hx.size(1) != self.hidden_size:
            raise RuntimeError(f"hidden{hidden_label} has inconsistent hidden_size: got {hx.size(1)}, expected "
                               f"{self.hidden_size}")

    def _zeros(self, input):
        return trainer.zeros(input.size(0), self.hidden_size, dtype=input.dtype, device=input.device)

    def _step(self, cell, input, states: tuple) -> tuple:
        # PyTorch's cell ops quantize int8 inputs over 7 bits, as its version-2 layers do
        params = CellParams(self._packed_weight_ih, self._packed_weight_hh, reduce_range=True)
        x_gates = dynamic_projection(input._data, params.ih, params.reduce_range)
        return tuple(Tensor._wrap(state) for state in cell(x_gates, tuple(s._data for s in states), params))

    def _weight_bias(self) -> dict:
        (w_ih, b_ih), (w_hh, b_hh) = self._packed_weight_ih, self._packed_weight_hh
        return {"weight": {"weight_ih": w_ih, "weight_hh": w_hh}, "bias": {"bias_ih": b_ih, "bias_hh": b_hh}}

    def get_weight(self) -> dict:
        return self._weight_bias()["weight"]

    def get_bias(self) -> dict:
        return self._weight_bias()["bias"]

    def set_weight_bias(self, weight_bias_dict) -> None:
        weights, biases = weight_bias_dict["weight"], weight_bias_dict["bias"]
        self._packed_weight_ih = _pack(weights["weight_ih"], biases["bias_ih"])
        self._packed_weight_hh = _pack(weights["weight_hh"], biases["bias_hh"])

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + "_packed_weight_ih"] = self._packed_weight_ih
        destination[prefix + "_packed_weight_hh"] = self._packed_weight_hh

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        self._packed_weight_ih = state_dict.pop(prefix + "_packed_weight_ih")
        self._packed_weight_hh = state_dict.pop(prefix + "_packed_weight_hh")
        super()._load_from_state_dict(state_dict, prefix, local_metadata, False, missing_keys, unexpected_keys,
                                      error_msgs)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """The dynamic cell for a float ``LSTMCell``, ``GRUCell`` or ``RNNCell`` with a ``qconfig``."""
        if type(mod) not in (float_rnn.LSTMCell, float_rnn.GRUCell, float_rnn.RNNCell):
            raise AssertionError("nn.quantized.dynamic.RNNCellBase.from_float only works for nn.LSTMCell, "
                                 "nn.GRUCell and nn.RNNCell")
        factory, dtype = _weight_observer_factory(mod)
        if type(mod) is float_rnn.RNNCell:
            qcell = RNNCell(mod.input_size, mod.hidden_size, bias=mod.bias, nonlinearity=mod.nonlinearity,
                            dtype=dtype)
        else:
            cell_class = LSTMCell if type(mod) is float_rnn.LSTMCell else GRUCell
            qcell = cell_class(mod.input_size, mod.hidden_size, bias=mod.bias, dtype=dtype)
        if not mod.bias:
            raise AssertionError("mod.bias must be True")
        qcell.set_weight_bias({
            "weight": {"weight_ih": _observe_and_quantize(mod.weight_ih, factory, dtype),
                       "weight_hh": _observe_and_quantize(mod.weight_hh, factory, dtype)},
            "bias": {"bias_ih": mod.bias_ih, "bias_hh": mod.bias_hh},
        })
        return qcell


class RNNCell(RNNCellBase):
    """A dynamically quantized ``nn.RNNCell`` (tanh or ReLU)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", dtype=qt.qint8):
        super().__init__(input_size, hidden_size, bias, num_chunks=1, dtype=dtype)
        self.nonlinearity = nonlinearity

    def _get_name(self):
        return "DynamicQuantizedRNNCell"

    def forward(self, input, hx=None):
        self.check_forward_input(input)
        if hx is None:
            hx = self._zeros(input)
        self.check_forward_hidden(input, hx, "")
        cells = {"tanh": tanh_cell, "relu": relu_cell}
        if self.nonlinearity not in cells:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        (h,) = self._step(cells[self.nonlinearity], input, (hx,))
        return h


class LSTMCell(RNNCellBase):
    """A dynamically quantized ``nn.LSTMCell``: ``forward(input, (h, c)=None) -> (h', c')``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, num_chunks=4, **kwargs)

    def _get_name(self):
        return "DynamicQuantizedLSTMCell"

    def forward(self, input, hx=None):
        self.check_forward_input(input)
        if hx is None:
            zeros = self._zeros(input)
            hx = (zeros, zeros)
        self.check_forward_hidden(input, hx[0], "[0]")
        self.check_forward_hidden(input, hx[1], "[1]")
        return self._step(lstm_cell, input, tuple(hx))


class GRUCell(RNNCellBase):
    """A dynamically quantized ``nn.GRUCell``."""

    def __init__(self, input_size, hidden_size, bias=True, dtype=qt.qint8):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, dtype=dtype)

    def _get_name(self):
        return "DynamicQuantizedGRUCell"

    def forward(self, input, hx=None):
        self.check_forward_input(input)
        if hx is None:
            hx = self._zeros(input)
        self.check_forward_hidden(input, hx, "")
        (h,) = self._step(gru_cell, input, (hx,))
        return h
