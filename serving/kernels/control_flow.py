"""Control flow: If, Loop and Scan, which run planned subgraphs (GRAPH attributes arrive as callables).

A body is called as ``body(*inputs) -> list of outputs``; values it reads from the enclosing scope are
bound by the planner, so kernels only pass the formal inputs.
"""

from __future__ import annotations

import numpy as np
import onnx

from serving.kernels.registry import kernel


def _pack(values):
    """A node's outputs: one value alone, several as a tuple (a list would be one sequence value)."""
    values = list(values)
    return values[0] if len(values) == 1 else tuple(values)


def _truth(ctx, value, what):
    if value.size != 1:
        raise ValueError(f"{ctx.node.op_type}: {what} must hold exactly one element, got shape {value.shape}")
    return bool(value.reshape(-1)[0])


def _empty_scan_output(ctx, output_index, axis=0):
    """A scan output of zero iterations, typed from the body's declared output (shape (0,) where unknown)."""
    body = next(a.g for a in ctx.node.attribute if a.name == "body")
    tensor_type = body.output[output_index].type.tensor_type
    dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor_type.elem_type) if tensor_type.elem_type else np.float32
    shape = [d.dim_value for d in tensor_type.shape.dim] if tensor_type.HasField("shape") else []
    if any(d <= 0 for d in shape):
        shape = []
    shape.insert(axis % (len(shape) + 1), 0)
    return ctx.xp.zeros(tuple(shape), dtype=dtype)


@kernel("If")
def If(ctx, cond, *, then_branch, else_branch):
    branch = then_branch if _truth(ctx, cond, "cond") else else_branch
    return _pack(branch())


@kernel("Loop")
def Loop(ctx, M=None, cond=None, *v_initial, body):  # noqa: N803 - M is the spec's name for the trip count
    xp = ctx.xp
    trip_count = None if M is None else int(M.reshape(-1)[0])
    keep_going = True if cond is None else _truth(ctx, cond, "cond")
    cond_value = xp.asarray(keep_going)
    carried = list(v_initial)
    n_carried = len(carried)
    scans: list[list] | None = None
    iteration = 0
    while keep_going and (trip_count is None or iteration < trip_count):
        outputs = body(xp.asarray(iteration, dtype=np.int64), cond_value, *carried)
        if len(outputs) < 1 + n_carried:
            raise ValueError(f"Loop: the body returned {len(outputs)} outputs, expected at least {1 + n_carried} "
                             "(cond, then the loop-carried values)")
        cond_value, carried = outputs[0], list(outputs[1: 1 + n_carried])
        if scans is None:
            scans = [[] for _ in outputs[1 + n_carried:]]
        for collected, value in zip(scans, outputs[1 + n_carried:]):
            collected.append(value)
        keep_going = _truth(ctx, cond_value, "the body's cond output")
        iteration += 1
    if scans is None:
        n_scans = ctx.n_outputs - n_carried
        stacked = [_empty_scan_output(ctx, 1 + n_carried + k) for k in range(n_scans)]
    else:
        stacked = [xp.stack(values) for values in scans]
    return _pack(carried + stacked)


def _scan_loop(ctx, body, states, scan_inputs, input_reverse, length):
    """Runs the body ``length`` times; returns the final states and each scan output's per-step values."""
    outputs_per_step: list[list] | None = None
    n_states = len(states)
    for t in range(length):
        slices = [x[length - 1 - t] if rev else x[t] for x, rev in zip(scan_inputs, input_reverse)]
        outputs = body(*states, *slices)
        states = list(outputs[:n_states])
        if outputs_per_step is None:
            outputs_per_step = [[] for _ in outputs[n_states:]]
        for collected, value in zip(outputs_per_step, outputs[n_states:]):
            collected.append(value)
    return states, outputs_per_step


def _scan_length(scan_inputs):
    lengths = {x.shape[0] for x in scan_inputs}
    if len(lengths) > 1:
        raise ValueError(f"Scan: the scan inputs have different lengths along their scan axes: {sorted(lengths)}")
    return lengths.pop() if lengths else 0


@kernel("Scan", since=8)
def Scan8(ctx, sequence_lens, *initial_state_and_scan_inputs, body, num_scan_inputs, directions=None):
    # Opset 8: every input has a leading batch axis; scan inputs are scanned along axis 1.
    xp = ctx.xp
    n_states = len(initial_state_and_scan_inputs) - num_scan_inputs
    states, scan_inputs = initial_state_and_scan_inputs[:n_states], initial_state_and_scan_inputs[n_states:]
    reverse = [bool(d) for d in (directions or [0] * num_scan_inputs)]
    batch = (states or scan_inputs)[0].shape[0]
    full = scan_inputs[0].shape[1] if scan_inputs else 0
    lens = [full] * batch if sequence_lens is None else [int(n) for n in sequence_lens.reshape(-1).tolist()]
    final_states, scanned = [], []
    for b in range(batch):
        length = lens[b]
        inputs = [x[b, :length] for x in scan_inputs]
        state_b, per_step = _scan_loop(ctx, body, [s[b] for s in states], inputs, reverse, length)
        final_states.append(state_b)
        if per_step is None:
            per_step_out = [_empty_scan_output(ctx, n_states + k) for k in range(ctx.n_outputs - n_states)]
        else:
            per_step_out = [xp.stack(values) for values in per_step]
        # Steps past a batch entry's length stay zero.
        scanned.append([xp.concatenate([v, xp.zeros((full - v.shape[0], *v.shape[1:]), dtype=v.dtype)])
                        if v.shape[0] < full else v for v in per_step_out])
    out_states = [xp.stack([fs[i] for fs in final_states]) for i in range(n_states)]
    out_scans = [xp.stack([sc[k] for sc in scanned]) for k in range(len(scanned[0]) if scanned else 0)]
    return _pack(out_states + out_scans)


@kernel("Scan", since=9)
def Scan(ctx, *initial_state_and_scan_inputs, body, num_scan_inputs, scan_input_axes=None,
         scan_input_directions=None, scan_output_axes=None, scan_output_directions=None):
    xp = ctx.xp
    n_states = len(initial_state_and_scan_inputs) - num_scan_inputs
    states = list(initial_state_and_scan_inputs[:n_states])
    raw_inputs = initial_state_and_scan_inputs[n_states:]
    axes = scan_input_axes or [0] * num_scan_inputs
    scan_inputs = [xp.moveaxis(x, axis % x.ndim, 0) for x, axis in zip(raw_inputs, axes)]
    input_reverse = [bool(d) for d in (scan_input_directions or [0] * num_scan_inputs)]
    length = _scan_length(scan_inputs)
    states, per_step = _scan_loop(ctx, body, states, scan_inputs, input_reverse, length)
    n_scan_outputs = ctx.n_outputs - n_states
    out_axes = scan_output_axes or [0] * n_scan_outputs
    out_reverse = [bool(d) for d in (scan_output_directions or [0] * n_scan_outputs)]
    scanned = []
    for k in range(n_scan_outputs):
        if per_step is None:
            scanned.append(_empty_scan_output(ctx, n_states + k, out_axes[k]))
            continue
        stacked = xp.stack(per_step[k][::-1] if out_reverse[k] else per_step[k])
        scanned.append(xp.moveaxis(stacked, 0, out_axes[k] % stacked.ndim))
    return _pack(states + scanned)
