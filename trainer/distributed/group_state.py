"""The default process group and the groups made from it: ``init_process_group``, ``destroy_process_group``,
``new_group`` and the queries (``get_rank``, ``get_world_size``, ...)."""

from __future__ import annotations

from datetime import timedelta

from trainer.distributed.process_group import ProcessGroup
from trainer.distributed.rendezvous import rendezvous
from trainer.distributed.store import PrefixStore, _seconds
from trainer.distributed.tcp_store import TCPStore

DEFAULT_PG_TIMEOUT = timedelta(minutes=30)
_NOT_INITIALIZED = "Default process group has not been initialized, please make sure to call init_process_group."
_OTHER_BACKENDS = ("nccl", "mpi", "ucc", "xccl", "hccl")


class Backend(str):
    """Backend names: trainer has ``gloo`` (TCP between processes on CPUs)."""

    GLOO = "gloo"
    UNDEFINED = "undefined"

    def __new__(cls, name: str):
        return super().__new__(cls, check_backend(name))


class GroupMember:
    """``GroupMember.WORLD`` is the default group once initialised; ``NON_GROUP_MEMBER`` is what ``new_group``
    returns on ranks left out of the group."""

    WORLD: ProcessGroup | None = None
    NON_GROUP_MEMBER = object()


group = GroupMember  # PyTorch's ``dist.group.WORLD`` spelling

_state = {"store": None, "groups_made": 0}


def check_backend(backend) -> str:
    name = "gloo" if backend is None else str(backend).lower()
    if name.startswith("cpu:"):  # "cpu:gloo" names the CPU backend explicitly
        name = name[4:]
    if name in _OTHER_BACKENDS:
        raise RuntimeError(f"Distributed package doesn't have {name.upper()} built in: trainer offers only the "
                           "'gloo' backend (TCP between processes on CPUs); use backend='gloo'")
    if name != "gloo":
        raise AssertionError(f"Unknown backend type {backend}: trainer offers only the 'gloo' backend")
    return name


def _advertised_address(store) -> str:
    """The address this rank's peers reach it on: the interface that reaches the TCPStore, else this machine."""
    while isinstance(store, PrefixStore):
        store = store.underlying_store
    return store.local_address() if isinstance(store, TCPStore) else "127.0.0.1"


def is_available() -> bool:
    return True


def is_gloo_available() -> bool:
    return True


def is_nccl_available() -> bool:
    return False


def is_mpi_available() -> bool:
    return False


def is_initialized() -> bool:
    return GroupMember.WORLD is not None


def is_torchelastic_launched() -> bool:
    import os

    return os.environ.get("TORCHELASTIC_RUN_ID") is not None


def init_process_group(backend=None, init_method=None, timeout=None, world_size: int = -1, rank: int = -1,
                       store=None, group_name: str = "", pg_options=None, device_id=None) -> None:
    """Join the job's default process group: rendezvous through ``store`` (with ``rank`` and ``world_size``) or
    ``init_method`` (default ``env://``), then connect to every other rank."""
    if GroupMember.WORLD is not None:
        raise ValueError("trying to initialize the default process group twice!")
    name = check_backend(backend)
    seconds = _seconds(DEFAULT_PG_TIMEOUT if timeout is None else timeout)
    if store is not None:
        if init_method is not None:
            raise ValueError("Cannot specify both init_method and store.")
        if world_size <= 0 or rank < 0:
            raise ValueError(f"world_size and rank must be given with store (got world_size={world_size}, "
                             f"rank={rank})")
    else:
        store, rank, world_size = rendezvous(init_method or "env://", rank, world_size, seconds)
    pg = ProcessGroup(PrefixStore("default_pg", store), rank, list(range(world_size)), seconds,
                      _advertised_address(store), name)
    _state["store"], _state["groups_made"] = store, 0
    GroupMember.WORLD = pg


def destroy_process_group(group=None) -> None:
    """Close ``group``'s connections; without one, the default group's and every group made from it."""
    if group is None or group is GroupMember.WORLD:
        if GroupMember.WORLD is None:
            raise ValueError(_NOT_INITIALIZED)
        for made in _made_groups:
            made.shutdown()
        _made_groups.clear()
        GroupMember.WORLD.shutdown()
        GroupMember.WORLD = None
        _state["store"] = None
        return
    if group is not GroupMember.NON_GROUP_MEMBER:
        group.shutdown()
        _made_groups.remove(group)


_made_groups: list[ProcessGroup] = []


def default_group() -> ProcessGroup:
    if GroupMember.WORLD is None:
        raise ValueError(_NOT_INITIALIZED)
    return GroupMember.WORLD


def resolve(group) -> ProcessGroup | None:
    """``group`` or the default one; None for a rank outside ``group`` (PyTorch then does nothing)."""
    if group is GroupMember.NON_GROUP_MEMBER:
        return None
    return default_group() if group is None else group


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization: bool = False,
              group_desc=None, device_id=None):
    """A group of ``ranks`` (global ranks; all of them by default). Every rank of the default group must call it,
    in the same order; ranks outside ``ranks`` get ``GroupMember.NON_GROUP_MEMBER``."""
    world = default_group()
    check_backend(backend)
    members = sorted(range(world.size())) if ranks is None else sorted(int(r) for r in ranks)
    if len(set(members)) != len(members) or any(not 0 <= r < world.size() for r in members):
        raise ValueError(f"new_group: ranks must be distinct ranks of the default group [0, {world.size() - 1}], "
                         f"got {list(ranks)}")
    _state["groups_made"] += 1
    if world.rank() not in members:
        return GroupMember.NON_GROUP_MEMBER
    store = PrefixStore(f"group{_state['groups_made']}", _state["store"])
    seconds = world.timeout if timeout is None else _seconds(timeout)
    pg = ProcessGroup(store, members.index(world.rank()), members, seconds, _advertised_address(_state["store"]),
                      world.backend)
    _made_groups.append(pg)
    return pg


def get_rank(group=None) -> int:
    """This process's rank in ``group`` (the default group's by default); -1 outside ``group``."""
    pg = resolve(group)
    return -1 if pg is None else pg.rank()


def get_world_size(group=None) -> int:
    pg = resolve(group)
    return -1 if pg is None else pg.size()


def get_backend(group=None) -> str:
    pg = resolve(group)
    if pg is None:
        raise ValueError("Invalid process group specified")
    return pg.backend


def get_process_group_ranks(group) -> list[int]:
    return list(resolve(group).ranks)


def get_group_rank(group, global_rank: int) -> int:
    pg = resolve(group)
    if global_rank not in pg.ranks:
        raise ValueError(f"Global rank {global_rank} is not part of group {pg.ranks}")
    return pg.ranks.index(global_rank)


def get_global_rank(group, group_rank: int) -> int:
    pg = resolve(group)
    if not 0 <= group_rank < pg.size():
        raise ValueError(f"Group rank {group_rank} is not part of group {pg.ranks}")
    return pg.ranks[group_rank]
