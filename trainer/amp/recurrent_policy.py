"""CPU autocast for the recurrent ops, matching the dtypes PyTorch 2.13 gives them.

PyTorch lists no recurrent op itself; what its CPU kernels are made of decides:

- ``RNN`` (tanh or relu; a padded or packed sequence) and ``RNNCell`` are linears (on the lower-precision list)
  and an activation, so their outputs and states are bfloat16; an ``LSTM`` over a padded sequence runs through
  ``mkldnn_rnn_layer``, which is on the lower-precision list, so it is bfloat16 too;
- ``GRU``, ``GRUCell``, ``LSTMCell`` and an ``LSTM`` over a packed sequence run their gates through bfloat16
  linears, but each new state mixes in the previous one, so the results have the widest dtype of the input and
  the given states (float32 for a float32 input); the weights are cast to that dtype here.

trainer runs each of these as one op in the dtype chosen (its gates are not rounded to bfloat16 on the way, so a
float32 result can differ from PyTorch's in the last bits bfloat16 rounding leaves).
"""

from __future__ import annotations

from trainer.amp import cast_policy


def recurrent_apply(op, lower_precision: bool, x, states, weights, **attrs):
    """``op.apply(x, *states, *weights, **attrs)``, cast as above inside an enabled CPU autocast region:
    ``lower_precision`` for the bfloat16 kind, else the widest dtype of ``x`` and ``states``."""
    if not cast_policy.active:
        return op.apply(x, *states, *weights, **attrs)
    if lower_precision:
        policy = cast_policy.lower_precision_fp
    else:
        carried = (x, *states)
        if not all(cast_policy._eligible(t) for t in carried):  # float64 (or another device) runs as given
            return op.apply(x, *states, *weights, **attrs)
        widest = cast_policy._widest(carried, {})
        policy = cast_policy._policy(lambda args, kwargs: widest)
    return policy(op.apply)(x, *states, *weights, **attrs)
