"""``torch.distributed`` on CPUs: process groups that talk over TCP (the role of PyTorch's gloo backend), key-value
stores for rendezvous, collectives and point-to-point operations on trainer tensors, and object collectives.

Start one process per rank (``trainer.multiprocessing.spawn`` or ``torchrun``), call ``init_process_group`` in
each, then wrap the model in ``trainer.nn.parallel.DistributedDataParallel``.
"""

from trainer.distributed import nn
from trainer.distributed.collectives import (
    all_gather,
    all_gather_into_tensor,
    all_reduce,
    all_to_all,
    all_to_all_single,
    barrier,
    broadcast,
    gather,
    reduce,
    reduce_scatter,
    reduce_scatter_tensor,
    scatter,
)
from trainer.distributed.errors import DistBackendError, DistError, DistNetworkError, DistStoreError
from trainer.distributed.group_state import (
    Backend,
    GroupMember,
    destroy_process_group,
    get_backend,
    get_global_rank,
    get_group_rank,
    get_process_group_ranks,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    is_available,
    is_gloo_available,
    is_initialized,
    is_mpi_available,
    is_nccl_available,
    is_torchelastic_launched,
    new_group,
)
from trainer.distributed.object_collectives import (
    all_gather_object,
    broadcast_object_list,
    gather_object,
    scatter_object_list,
)
from trainer.distributed.point_to_point import irecv, isend, recv, send
from trainer.distributed.process_group import ProcessGroup
from trainer.distributed.reduce_op import ReduceOp
from trainer.distributed.store import FileStore, HashStore, PrefixStore, Store
from trainer.distributed.tcp_store import TCPStore
from trainer.distributed.work import Work

__all__ = [
    "Backend", "DistBackendError", "DistError", "DistNetworkError", "DistStoreError", "FileStore", "GroupMember",
    "HashStore", "PrefixStore", "ProcessGroup", "ReduceOp", "Store", "TCPStore", "Work", "all_gather",
    "all_gather_into_tensor", "all_gather_object", "all_reduce", "all_to_all", "all_to_all_single", "barrier",
    "broadcast", "broadcast_object_list", "destroy_process_group", "gather", "gather_object", "get_backend",
    "get_global_rank", "get_group_rank", "get_process_group_ranks", "get_rank", "get_world_size", "group",
    "init_process_group", "irecv", "is_available", "is_gloo_available", "is_initialized", "is_mpi_available",
    "is_nccl_available", "is_torchelastic_launched", "isend", "new_group", "nn", "recv", "reduce", "reduce_scatter",
    "reduce_scatter_tensor", "scatter", "scatter_object_list", "send",
]
