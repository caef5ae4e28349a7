"""``DistributedDataParallel``: one replica of the model per process; gradients are averaged over the process group
after each backward, so every replica takes the same optimizer step.

At construction rank 0's parameters and buffers are broadcast to every rank. The parameters that require grad are
packed, in reverse registration order (roughly the order backward produces their gradients), into buckets of up to
``bucket_cap_mb`` (the first 1 MB, as in PyTorch) of one dtype each. A post-accumulate-grad hook on each parameter
marks it ready; when a bucket is complete its gradients, divided by the group size, are flattened into one array and
all-reduced asynchronously, buckets launched in order; after the last one the averages are written back into
``.grad``. So one backward makes one ``all_reduce`` per bucket, the same calls in the same order on every rank.
"""

from __future__ import annotations

import contextlib

import numpy as np

from trainer import distributed as dist
from trainer.autograd import grad_mode
from trainer.distributed import group_state
from trainer.func.pytree import tree_leaves
from trainer.nn.modules.module import Module
from trainer.tensor import Tensor

_FIRST_BUCKET_BYTES = 1024 * 1024
_DEFAULT_BUCKET_MB = 25
_UNFINISHED = ("Expected to have finished reduction in the prior iteration before starting a new one. This error "
               "indicates that your module has parameters that were not used in producing loss. You can enable "
               "unused parameter detection by passing the keyword argument `find_unused_parameters=True` to "
               "`torch.nn.parallel.DistributedDataParallel`, and by making sure all `forward` function outputs "
               "participate in calculating loss. Parameters that got no gradient on rank {rank}: {names}")


class _Bucket:
    def __init__(self, params):
        self.params = params
        self.pending = len(params)
        self.work = None
        self.flat = None


def _pack(params, first_cap: int, cap: int) -> list[_Bucket]:
    """Consecutive parameters of one dtype, up to ``first_cap`` bytes in the first bucket and ``cap`` after."""
    buckets, current, size, limit = [], [], 0, first_cap
    for p in params:
        nbytes = p._data.nbytes
        if current and (p._data.dtype != current[0]._data.dtype or size + nbytes > limit):
            buckets.append(_Bucket(current))
            current, size, limit = [], 0, cap
        current.append(p)
        size += nbytes
    if current:
        buckets.append(_Bucket(current))
    return buckets


def _parameters_reached(outputs) -> set[int]:
    """The ids of the leaf tensors that the graph behind ``outputs`` leads to."""
    reached, seen, stack = set(), set(), []
    for out in tree_leaves(outputs):
        if isinstance(out, Tensor):
            if out._grad_fn is not None:
                stack.append(out._grad_fn)
            elif out._requires_grad:
                reached.add(id(out))
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for edge in node._edges:
            if type(edge) is tuple:
                stack.append(edge[0])
            elif edge is not None:
                reached.add(id(edge))
    return reached


class DistributedDataParallel(Module):
    """Wraps ``module`` (kept as the child ``module``, so ``state_dict`` keys gain the ``module.`` prefix). CPU
    only: ``device_ids`` and ``output_device`` must be None, as PyTorch requires for CPU modules."""

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0,
                 broadcast_buffers: bool = True, init_sync: bool = True, process_group=None,
                 bucket_cap_mb: float | None = None, find_unused_parameters: bool = False,
                 check_reduction: bool = False, gradient_as_bucket_view: bool = False, static_graph: bool = False,
                 delay_all_reduce_named_params=None, param_to_hook_all_reduce=None, mixed_precision=None,
                 device_mesh=None):
        super().__init__()
        pg = group_state.resolve(process_group)
        if device_ids or output_device is not None:
            raise ValueError("DistributedDataParallel device_ids and output_device arguments only work with "
                             "single-device/multiple-device GPU modules or CPU modules, but got device_ids "
                             f"{device_ids}, output_device {output_device}: trainer's DDP runs CPU modules; pass "
                             "neither")
        self.module = module
        self.process_group = pg
        self.device_ids = None
        self.output_device = None
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        cap_mb = _DEFAULT_BUCKET_MB if bucket_cap_mb is None else bucket_cap_mb
        self.bucket_bytes_cap = int(cap_mb * 1024 * 1024)
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter that "
                               "requires a gradient.")
        self._param_names = {id(p): n for n, p in named}
        params = [p for _, p in reversed(named)]
        self._buckets = _pack(params, min(_FIRST_BUCKET_BYTES, self.bucket_bytes_cap), self.bucket_bytes_cap)
        self._bucket_of = {id(p): b for b in self._buckets for p in b.params}
        self._expecting = False  # a forward prepared a reduction that backward has not finished
        self._used: set[int] = set()
        self._hooks = [p.register_post_accumulate_grad_hook(self._grad_ready) for p in params]
        if init_sync and pg.size() > 1:
            self._broadcast_from_rank0([*module.parameters(), *module.buffers()])

    # --- forward: buffers from rank 0, then prepare for this iteration's backward ----------------------------
    def forward(self, *inputs, **kwargs):
        if self._expecting and any(b.pending < len(b.params) for b in self._buckets):
            missing = [self._param_names[id(p)] for b in self._buckets for p in b.params
                       if b.pending and id(p) not in self._ready_ids]
            raise RuntimeError(_UNFINISHED.format(rank=self.process_group.rank(), names=", ".join(missing)))
        if self.broadcast_buffers and self.require_forward_param_sync and self.process_group.size() > 1:
            buffers = list(self.module.buffers())
            if buffers:
                self._broadcast_from_rank0(buffers)
        output = self.module(*inputs, **kwargs)
        self._expecting = grad_mode._state.enabled and self.require_backward_grad_sync
        self._ready_ids: set[int] = set()
        for bucket in self._buckets:
            bucket.pending, bucket.work, bucket.flat = len(bucket.params), None, None
        if self._expecting and self.find_unused_parameters:
            self._used = _parameters_reached(output)
            for p in [p for b in self._buckets for p in b.params if id(p) not in self._used]:
                self._mark_ready(p)  # contributes zeros; averaged in if another rank used it
        return output

    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes inside only accumulate local gradients; the first backward after it averages them."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    # --- backward: bucketed all-reduce of gradients ----------------------------------------------------------
    def _grad_ready(self, param) -> None:
        if self._expecting and id(param) not in self._ready_ids:
            self._mark_ready(param)

    def _mark_ready(self, param) -> None:
        self._ready_ids.add(id(param))
        self._bucket_of[id(param)].pending -= 1
        for bucket in self._buckets:  # launch in bucket order: every rank issues the same collectives
            if bucket.work is not None:
                continue
            if bucket.pending:
                return
            self._launch(bucket)
        self._finish()

    def _launch(self, bucket: _Bucket) -> None:
        size = self.process_group.size()
        parts = [np.zeros(p._data.size, p._data.dtype) if p.grad is None or id(p) not in self._ready_ids
                 else (p.grad._data / size).astype(p._data.dtype, copy=False).reshape(-1) for p in bucket.params]
        bucket.flat = Tensor._wrap(np.concatenate(parts))
        bucket.work = dist.all_reduce(bucket.flat, group=self.process_group, async_op=True)

    def _finish(self) -> None:
        self._expecting = False
        used_anywhere = None
        if self.find_unused_parameters:
            order = [p for b in self._buckets for p in b.params]
            flags = Tensor._wrap(np.array([id(p) in self._used for p in order], np.int32))
            dist.all_reduce(flags, op=dist.ReduceOp.MAX, group=self.process_group)
            used_anywhere = {id(p) for p, flag in zip(order, flags._data, strict=True) if flag}
        for bucket in self._buckets:
            bucket.work.wait()
            offset = 0
            for p in bucket.params:
                average = bucket.flat._data[offset:offset + p._data.size].reshape(p._data.shape)
                offset += p._data.size
                if used_anywhere is not None and id(p) not in used_anywhere:
                    continue  # no rank used it: its .grad stays as it was, as in PyTorch
                if p.grad is None:
                    p.grad = Tensor._wrap(average.copy())
                else:
                    p.grad._data[...] = average
                    p.grad._version_counter.value += 1
            bucket.work, bucket.flat = None, None

    def _broadcast_from_rank0(self, tensors) -> None:
        """One broadcast per dtype of the tensors' values, flattened, written back in place."""
        by_dtype: dict = {}
        for t in tensors:
            by_dtype.setdefault(t._data.dtype, []).append(t)
        for group in by_dtype.values():
            flat = Tensor._wrap(np.concatenate([np.asarray(t._data).reshape(-1) for t in group]))
            dist.broadcast(flat, src=self.process_group.ranks[0], group=self.process_group)
            offset = 0
            for t in group:
                t._data[...] = flat._data[offset:offset + t._data.size].reshape(t._data.shape)
                t._version_counter.value += 1
                offset += t._data.size
