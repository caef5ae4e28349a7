"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and their one-step cells, with PyTorch's parameters,
shapes, checks and repr.

The maths lives in ``trainer.ops.rnn``: one op per layer and direction over the whole sequence. A
layer here only stacks those ops, concatenates the two directions and applies dropout between
layers; a cell is the same op on a sequence of length one. A ``PackedSequence`` input runs the
packed ops of ``trainer.ops.packed_rnn`` on its data instead, in the packed batch's sorted order.
"""

from __future__ import annotations

import math
import numbers
import warnings

from trainer import creation
from trainer.amp.recurrent_policy import recurrent_apply
from trainer.nn import functional as F
from trainer.nn import init
from trainer.nn.modules.module import Module
from trainer.nn.parameter import Parameter
from trainer.nn.utils.rnn import PackedSequence
from trainer.ops import packed_rnn as packed_ops
from trainer.ops import rnn as ops
from trainer.ops.join import cat, stack

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
_OPS = {"RNN_TANH": ops.RnnTanh, "RNN_RELU": ops.RnnRelu, "LSTM": ops.Lstm, "GRU": ops.Gru}
_PACKED_OPS = {"RNN_TANH": packed_ops.PackedRnnTanh, "RNN_RELU": packed_ops.PackedRnnRelu,
               "LSTM": packed_ops.PackedLstm, "GRU": packed_ops.PackedGru}


def check_rnn_arguments(mode: str, dropout, num_layers: int) -> None:
    """PyTorch's checks of an RNN layer's mode and dropout (and its warning for dropout on a single layer), for
    the float layers and their dynamically quantized versions."""
    if mode not in _GATES:
        raise ValueError("Unrecognized RNN mode: " + mode)
    if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
        raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                         "element being zeroed")
    if dropout > 0 and num_layers == 1:
        warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                      f"expects num_layers greater than 1, but got dropout={dropout} and "
                      f"num_layers={num_layers}", stacklevel=4)


class RNNBase(Module):
    """Parameters ``weight_ih_l{k}[_reverse]``, ``weight_hh_l{k}[_reverse]``, ``bias_ih_l{k}[_reverse]``,
    ``bias_hh_l{k}[_reverse]`` per layer ``k`` and direction, all drawn from U(-1/sqrt(H), 1/sqrt(H))."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None) -> None:
        super().__init__()
        check_rnn_arguments(mode, dropout, num_layers)
        for name, value in (("bias", bias), ("batch_first", batch_first)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} should be of type bool, got: {type(value).__name__}")
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, int):
                raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
            if value <= 0:
                raise ValueError(f"{name} must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        num_directions = 2 if bidirectional else 1
        gate_size = _GATES[mode] * hidden_size
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            layer_input_size = input_size if layer == 0 else hidden_size * num_directions
            for direction in range(num_directions):
                suffix = "_reverse" if direction == 1 else ""
                shapes = {f"weight_ih_l{layer}{suffix}": (gate_size, layer_input_size),
                          f"weight_hh_l{layer}{suffix}": (gate_size, hidden_size)}
                if bias:
                    shapes[f"bias_ih_l{layer}{suffix}"] = (gate_size,)
                    shapes[f"bias_hh_l{layer}{suffix}"] = (gate_size,)
                for name, shape in shapes.items():
                    setattr(self, name, Parameter(creation.empty(*shape, device=device, dtype=dtype)))
                self._flat_weights_names.extend(shapes)
                self._all_weights.append(list(shapes))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    @property
    def _flat_weights(self) -> list[Parameter]:
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[Parameter]]:
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """Nothing to do: the ops read each parameter where it is (PyTorch compacts them for cuDNN)."""

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # ----------------------------------------------------------------- checks
    def check_input(self, input, batch_sizes) -> None:
        weight_dtype = self._flat_weights[0].dtype
        if input.dtype != weight_dtype:
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype ({weight_dtype}). "
                             f"Convert input: input.to({weight_dtype}), or convert model: model.to({input.dtype})")
        expected_dim = 2 if batch_sizes is not None else 3
        if input.dim() != expected_dim:
            raise RuntimeError(f"input must have {expected_dim} dimensions, got {input.dim()}")
        if self.input_size != input.size(-1):
            raise RuntimeError("input.size(-1) must be equal to input_size. "
                               f"Expected {self.input_size}, got {input.size(-1)}")

    def get_expected_hidden_size(self, input, batch_sizes) -> tuple[int, int, int]:
        if batch_sizes is not None:
            mini_batch = int(batch_sizes[0])
        else:
            mini_batch = input.size(0) if self.batch_first else input.size(1)
        return self.num_layers * (2 if self.bidirectional else 1), mini_batch, self.hidden_size

    def check_hidden_size(self, hx, expected_hidden_size, msg: str = "Expected hidden size {}, got {}") -> None:
        if tuple(hx.shape) != tuple(expected_hidden_size):
            raise RuntimeError(msg.format(expected_hidden_size, list(hx.shape)))
        if hx.dtype != self._flat_weights[0].dtype:
            raise RuntimeError(f"Input and hidden tensors are not the same dtype, found input tensor with "
                               f"{self._flat_weights[0].dtype} and hidden tensor with {hx.dtype}")

    def check_forward_args(self, input, hidden, batch_sizes) -> None:
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))

    def permute_hidden(self, hx, permutation):
        """``hx`` with its batch (dim 1) reordered by ``permutation``; None leaves it as it is."""
        if permutation is None:
            return hx
        return hx.index_select(1, permutation)

    # ----------------------------------------------------------------- running
    def _prepare(self, input):
        """Validate the rank and return (input with a batch dimension, whether it had one)."""
        if input.dim() not in (2, 3):
            kind = "RNN" if self.mode.startswith("RNN") else self.mode
            tail = " tensor instead" if kind == "RNN" else " instead"
            raise ValueError(f"{kind}: Expected input to be 2D or 3D, got {input.dim()}D{tail}")
        is_batched = input.dim() == 3
        if not is_batched:
            input = input.unsqueeze(0 if self.batch_first else 1)
        return input, is_batched

    def _zeros(self, input, batch_sizes=None):
        return creation.zeros(*self.get_expected_hidden_size(input, batch_sizes), dtype=input.dtype,
                              device=input.device)

    def _run(self, input, initial, is_batched):
        """All layers and directions; ``initial`` holds each state as (layers * directions, N, H).
        Returns the output (in the input's layout) and the final states, stacked like ``initial``."""
        x = input.transpose(0, 1) if self.batch_first else input  # the ops run time-major
        x, states = self._layers(x, initial, None)
        output = x.transpose(0, 1) if self.batch_first else x
        if not is_batched:
            output = output.squeeze(0 if self.batch_first else 1)
            states = [s.squeeze(1) for s in states]
        return output, states

    def _layers(self, x, initial, batch_sizes):
        """Every layer and direction over time-major ``x`` (T, N, I), or over a packed sequence's data
        (total, I) when ``batch_sizes`` (a tuple of ints) is given; returns the last layer's output, laid out
        as ``x``, and the final states, stacked like ``initial``."""
        if batch_sizes is None:
            op, attrs = _OPS[self.mode], {}
        else:
            op, attrs = _PACKED_OPS[self.mode], {"batch_sizes": batch_sizes}
        directions = 2 if self.bidirectional else 1
        # under CPU autocast PyTorch runs RNNs, and LSTMs over padded sequences, in bfloat16 (see recurrent_policy)
        lower_precision = self.mode != "GRU" and not (self.mode == "LSTM" and batch_sizes is not None)
        finals = [[] for _ in initial]
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                k = layer * directions + direction
                weights = [getattr(self, name) for name in self._all_weights[k]]
                out, *last = recurrent_apply(op, lower_precision, x, [state[k] for state in initial], weights,
                                             reverse=direction == 1, **attrs)
                outputs.append(out)
                for states, state in zip(finals, last):
                    states.append(state)
            x = cat(outputs, dim=-1) if directions == 2 else outputs[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        return x, [stack(s, 0) for s in finals]

    def _run_packed(self, input, hx):
        """A ``PackedSequence`` through every layer. ``hx`` and the final states are in the caller's batch
        order: ``sorted_indices`` takes ``hx`` to the packed (sorted) order, ``unsorted_indices`` brings the
        final states back, as PyTorch does."""
        data, batch_sizes, sorted_indices, unsorted_indices = input
        lstm = self.mode == "LSTM"
        given = hx is not None
        if not given:
            zeros = [self._zeros(data, batch_sizes) for _ in range(2 if lstm else 1)]
            hx = tuple(zeros) if lstm else zeros[0]
        self.check_forward_args(data, hx, batch_sizes)  # before permuting, which would fail on a wrong batch
        if given:  # zeros need no permuting (as in PyTorch): they stay a constant an exporter can recognise
            hx = self.permute_hidden(hx, sorted_indices)
        output, states = self._layers(data, list(hx) if lstm else [hx], tuple(batch_sizes.tolist()))
        hidden = tuple(states) if lstm else states[0]
        packed = PackedSequence(output, batch_sizes, sorted_indices, unsorted_indices)
        return packed, self.permute_hidden(hidden, unsorted_indices)


class _SingleStateRNN(RNNBase):
    """``forward(input, hx=None) -> (output, h_n)``, shared by ``RNN`` and ``GRU``."""

    def forward(self, input, hx=None):
        if isinstance(input, PackedSequence):
            return self._run_packed(input, hx)
        input, is_batched = self._prepare(input)
        if hx is not None:
            if is_batched and hx.dim() != 3:
                raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got {hx.dim()}-D tensor")
            if not is_batched:
                if hx.dim() != 2:
                    raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but got {hx.dim()}-D tensor")
                hx = hx.unsqueeze(1)
        else:
            hx = self._zeros(input)
        self.check_forward_args(input, hx, None)
        output, (h_n,) = self._run(input, [hx], is_batched)
        return output, h_n


class RNN(_SingleStateRNN):
    """Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or ReLU)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None) -> None:
        modes = {"tanh": "RNN_TANH", "relu": "RNN_RELU"}
        if nonlinearity not in modes:
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__(modes[nonlinearity], input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)


class GRU(_SingleStateRNN):
    """Gated recurrent unit with PyTorch's gate order (r, z, n) and ``b_hn`` inside the reset product."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)


class LSTM(RNNBase):
    """Long short-term memory with PyTorch's gate order (i, f, g, o); ``forward(input, (h_0, c_0)=None)``
    returns ``(output, (h_n, c_n))``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def check_forward_args(self, input, hidden, batch_sizes) -> None:
        self.check_input(input, batch_sizes)
        expected = self.get_expected_hidden_size(input, batch_sizes)
        self.check_hidden_size(hidden[0], expected, "Expected hidden[0] size {}, got {}")
        self.check_hidden_size(hidden[1], expected, "Expected hidden[1] size {}, got {}")

    def permute_hidden(self, hx, permutation):
        if permutation is None:
            return hx
        return hx[0].index_select(1, permutation), hx[1].index_select(1, permutation)

    def forward(self, input, hx=None):
        if isinstance(input, PackedSequence):
            return self._run_packed(input, hx)
        input, is_batched = self._prepare(input)
        if hx is None:
            hx = (self._zeros(input), self._zeros(input))
        else:
            ranks = (hx[0].dim(), hx[1].dim())
            if is_batched and ranks != (3, 3):
                raise RuntimeError("For batched 3-D input, hx and cx should also be 3-D but got "
                                   f"({ranks[0]}-D, {ranks[1]}-D) tensors")
            if not is_batched:
                if ranks != (2, 2):
                    raise RuntimeError("For unbatched 2-D input, hx and cx should also be 2-D but got "
                                       f"({ranks[0]}-D, {ranks[1]}-D) tensors")
                hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
        self.check_forward_args(input, hx, None)
        output, (h_n, c_n) = self._run(input, list(hx), is_batched)
        return output, (h_n, c_n)


class RNNCellBase(Module):
    """One time step; parameters ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(creation.empty(num_chunks * hidden_size, input_size, device=device, dtype=dtype))
        self.weight_hh = Parameter(creation.empty(num_chunks * hidden_size, hidden_size, device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(creation.empty(num_chunks * hidden_size, device=device, dtype=dtype))
            self.bias_hh = Parameter(creation.empty(num_chunks * hidden_size, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _check_rank(self, input, states, what) -> bool:
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        for label, state in zip(what, states):
            if state is not None and state.dim() not in (1, 2):
                raise ValueError(f"{name}: Expected {label} to be 1D or 2D, got {state.dim()}D instead")
        return input.dim() == 2

    def _step(self, op, input, states):
        """Run the sequence op on a length-1 sequence; returns the final states."""
        if input.size(1) != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.size(1)} expected {self.input_size}")
        for i, state in enumerate(states):
            if state.size(0) != input.size(0):
                raise RuntimeError(f"Input batch size {input.size(0)} doesn't match hidden{i} batch size "
                                   f"{state.size(0)}")
            if state.size(1) != self.hidden_size:
                raise RuntimeError(f"hidden{i} has inconsistent hidden_size: got {state.size(1)}, "
                                   f"expected {self.hidden_size}")
        weights = [self.weight_ih, self.weight_hh]
        if self.bias:
            weights += [self.bias_ih, self.bias_hh]
        lower_precision = op in (ops.RnnTanh, ops.RnnRelu)  # an RNNCell runs in bfloat16 under autocast
        _, *last = recurrent_apply(op, lower_precision, input.unsqueeze(0), states, weights, reverse=False)
        return last

    def _zeros(self, input):
        return creation.zeros(input.size(0), self.hidden_size, dtype=input.dtype, device=input.device)


class RNNCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        is_batched = self._check_rank(input, (hx,), ("hidden",))
        ops_by_name = {"tanh": ops.RnnTanh, "relu": ops.RnnRelu}
        if self.nonlinearity not in ops_by_name:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        if not is_batched:
            input = input.unsqueeze(0)
        hx = self._zeros(input) if hx is None else (hx if is_batched else hx.unsqueeze(0))
        (h,) = self._step(ops_by_name[self.nonlinearity], input, (hx,))
        return h if is_batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        is_batched = self._check_rank(input, tuple(hx) if hx is not None else (), ("hx[0]", "hx[1]"))
        if not is_batched:
            input = input.unsqueeze(0)
        if hx is None:
            zeros = self._zeros(input)
            hx = (zeros, zeros)
        elif not is_batched:
            hx = (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        h, c = self._step(ops.Lstm, input, tuple(hx))
        return (h, c) if is_batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        is_batched = self._check_rank(input, (hx,), ("hidden",))
        if not is_batched:
            input = input.unsqueeze(0)
        hx = self._zeros(input) if hx is None else (hx if is_batched else hx.unsqueeze(0))
        (h,) = self._step(ops.Gru, input, (hx,))
        return h if is_batched else h.squeeze(0)
