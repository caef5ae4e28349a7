"""Rendezvous: the store that the processes of a job meet in, from ``init_method`` (``env://``, ``tcp://host:port``,
``file://path``) and the environment variables ``torchrun`` sets (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE)."""

from __future__ import annotations

import os
from urllib.parse import parse_qs, urlparse

from trainer.distributed.store import FileStore
from trainer.distributed.tcp_store import TCPStore


def _from_env(name: str) -> str:
    value = os.environ.get(name)
    if value is None:
        raise ValueError(f"Error initializing torch.distributed using env:// rendezvous: environment variable {name} "
                         "expected, but not set")
    return value


def rendezvous(init_method: str, rank: int, world_size: int, timeout: float):
    """``(store, rank, world_size)`` for ``init_method``; ``rank``/``world_size`` of -1 are read from the URL's
    query (``?rank=0&world_size=2``) or, for ``env://``, from RANK and WORLD_SIZE."""
    url = urlparse(init_method)
    query = {k: v[-1] for k, v in parse_qs(url.query).items()}
    if rank < 0 and "rank" in query:
        rank = int(query["rank"])
    if world_size < 0 and "world_size" in query:
        world_size = int(query["world_size"])
    if url.scheme == "env":
        rank = int(_from_env("RANK")) if rank < 0 else rank
        world_size = int(_from_env("WORLD_SIZE")) if world_size < 0 else world_size
        host, port = _from_env("MASTER_ADDR"), int(_from_env("MASTER_PORT"))
    elif url.scheme == "tcp":
        if url.hostname is None or url.port is None:
            raise ValueError(f"tcp:// init_method must name a host and port, e.g. tcp://10.0.0.1:23456; got "
                             f"{init_method!r}")
        host, port = url.hostname, url.port
    elif url.scheme == "file":
        host = port = None
    else:
        raise RuntimeError(f"No rendezvous handler for {url.scheme}://: use env://, tcp://host:port or file://path")
    if rank < 0 or world_size < 0:
        raise ValueError(f"{url.scheme}:// rendezvous needs rank and world_size: pass them to init_process_group "
                         f"or in the URL (got rank={rank}, world_size={world_size})")
    if not 0 <= rank < world_size:
        raise ValueError(f"Invalid rank {rank}: rank must be in [0, {world_size - 1}] for world_size {world_size}")
    if url.scheme == "file":
        store = FileStore(url.path, world_size)
        store.set_timeout(timeout)
    else:
        store = TCPStore(host, port, world_size, is_master=rank == 0, timeout=timeout)
    return store, rank, world_size
