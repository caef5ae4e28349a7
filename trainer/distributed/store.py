"""Key-value stores for rendezvous, as ``torch.distributed``: ``HashStore`` (one process), ``FileStore`` (a file
that processes on one machine, or on a shared file system, open together), ``TCPStore`` (a server in the master
process that the others connect to) and ``PrefixStore`` (a namespace inside another store).

Values are bytes (``set`` encodes strings as UTF-8); ``add`` keeps a counter as its decimal text, as PyTorch does,
so ``get`` of a counter returns e.g. ``b"3"``. ``get`` and ``wait`` block until the keys exist, up to the store's
timeout, then raise ``DistStoreError``.
"""

from __future__ import annotations

import fcntl
import os
import pickle
import threading
import time
from datetime import timedelta

from trainer.distributed.errors import DistStoreError

DEFAULT_TIMEOUT = timedelta(seconds=300)


def _as_bytes(value) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"store values must be str or bytes, got {type(value).__name__}")


def _seconds(timeout) -> float:
    return timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)


def _timeout_error(keys, seconds: float) -> DistStoreError:
    return DistStoreError(f"wait timeout after {int(seconds * 1000)}ms, keys: {', '.join(keys)}")


class KeyValueTable:
    """The store's contents in one process, with a condition that wakes waiters when keys appear."""

    def __init__(self):
        self.values: dict[str, bytes] = {}
        self.changed = threading.Condition()

    def apply(self, command: str, args: tuple):
        """Run one store command (``set``, ``get``, ``add``, ``compare_set``, ``delete_key``, ``num_keys``,
        ``check``, ``append``, ``wait``) on the table; ``get`` and ``wait`` take a timeout in seconds last."""
        with self.changed:
            if command in ("get", "wait"):
                *keys, seconds = args
                deadline = time.monotonic() + seconds
                while not all(k in self.values for k in keys):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise _timeout_error(keys, seconds)
                    self.changed.wait(left)
                return self.values[keys[0]] if command == "get" else None
            result = _COMMANDS[command](self.values, *args)
            self.changed.notify_all()
            return result


def _set(values, key, value):
    values[key] = value


def _add(values, key, amount):
    total = int(values.get(key, b"0")) + amount
    values[key] = str(total).encode()
    return total


def _compare_set(values, key, expected, desired):
    # PyTorch: an absent key is set only when the expected value is empty; the result is the value now stored
    current = values.get(key)
    if (current is None and expected == b"") or current == expected:
        values[key] = desired
        return desired
    return expected if current is None else current


def _append(values, key, value):
    values[key] = values.get(key, b"") + value


_COMMANDS = {
    "set": _set,
    "add": _add,
    "compare_set": _compare_set,
    "append": _append,
    "delete_key": lambda values, key: values.pop(key, None) is not None,
    "num_keys": lambda values: len(values),
    "check": lambda values, *keys: all(k in values for k in keys),
}


class Store:
    """The operations every store offers; subclasses implement ``_run(command, args)``."""

    def __init__(self, timeout=DEFAULT_TIMEOUT):
        self._timeout = _seconds(timeout)

    @property
    def timeout(self) -> timedelta:
        return timedelta(seconds=self._timeout)

    def set_timeout(self, timeout) -> None:
        self._timeout = _seconds(timeout)

    def set(self, key: str, value) -> None:
        self._run("set", (key, _as_bytes(value)))

    def get(self, key: str) -> bytes:
        return self._run("get", (key, self._timeout))

    def add(self, key: str, amount: int) -> int:
        return self._run("add", (key, int(amount)))

    def compare_set(self, key: str, expected_value, desired_value) -> bytes:
        return self._run("compare_set", (key, _as_bytes(expected_value), _as_bytes(desired_value)))

    def append(self, key: str, value) -> None:
        self._run("append", (key, _as_bytes(value)))

    def multi_get(self, keys: list[str]) -> list[bytes]:
        return [self.get(k) for k in keys]

    def multi_set(self, keys: list[str], values: list) -> None:
        for key, value in zip(keys, values, strict=True):
            self.set(key, value)

    def wait(self, keys: list[str], timeout=None) -> None:
        self._run("wait", (*keys, self._timeout if timeout is None else _seconds(timeout)))

    def check(self, keys: list[str]) -> bool:
        return self._run("check", tuple(keys))

    def delete_key(self, key: str) -> bool:
        return self._run("delete_key", (key,))

    def num_keys(self) -> int:
        return self._run("num_keys", ())

    def _run(self, command: str, args: tuple):
        raise NotImplementedError


class HashStore(Store):
    """A store in this process's memory, shared by its threads."""

    def __init__(self):
        super().__init__()
        self._table = KeyValueTable()

    def _run(self, command, args):
        return self._table.apply(command, args)


class PrefixStore(Store):
    """``store`` with every key put under ``prefix/``."""

    def __init__(self, prefix: str, store: Store):
        super().__init__(store.timeout)
        self.underlying_store = store
        self._prefix = prefix

    @property
    def timeout(self) -> timedelta:
        return self.underlying_store.timeout

    def set_timeout(self, timeout) -> None:
        self.underlying_store.set_timeout(timeout)

    def _key(self, key: str) -> str:
        return f"{self._prefix}/{key}"

    def _run(self, command, args):
        if command in ("num_keys",):
            return self.underlying_store._run(command, args)
        if command in ("get", "wait"):
            *keys, seconds = args
            return self.underlying_store._run(command, (*[self._key(k) for k in keys], seconds))
        if command == "check":
            return self.underlying_store._run(command, tuple(self._key(k) for k in args))
        return self.underlying_store._run(command, (self._key(args[0]), *args[1:]))


class FileStore(Store):
    """A store kept in ``file_name``: each change rewrites the file under an exclusive ``flock``, each read takes a
    shared one, and waiting polls. The file is removed once ``world_size`` users have closed it (with the default
    ``world_size=-1`` it is left in place)."""

    _POLL_SECONDS = 0.01
    _CLOSED_USERS = "__filestore_closed_users__"  # bookkeeping, not counted by num_keys

    def __init__(self, file_name: str, world_size: int = -1):
        super().__init__()
        self.path = file_name
        self.world_size = world_size
        open(file_name, "ab").close()
        self._open = True

    def _values(self, handle) -> dict:
        handle.seek(0)
        data = handle.read()
        return pickle.loads(data) if data else {}

    def _run(self, command, args):
        if command in ("get", "wait"):
            *keys, seconds = args
            deadline = time.monotonic() + seconds
            while True:
                values = self._run("snapshot", ())
                if all(k in values for k in keys):
                    return values[keys[0]] if command == "get" else None
                if time.monotonic() >= deadline:
                    raise _timeout_error(keys, seconds)
                time.sleep(self._POLL_SECONDS)
        with open(self.path, "r+b") as handle:
            reading = command in ("snapshot", "num_keys", "check")
            fcntl.flock(handle, fcntl.LOCK_SH if reading else fcntl.LOCK_EX)
            try:
                values = self._values(handle)
                if command == "snapshot":
                    return values
                if reading:
                    values.pop(self._CLOSED_USERS, None)
                    return _COMMANDS[command](values, *args)
                result = _COMMANDS[command](values, *args)
                handle.seek(0)
                handle.truncate()
                handle.write(pickle.dumps(values))
                return result
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def __del__(self):
        if not getattr(self, "_open", False) or self.world_size <= 0:
            return
        self._open = False
        try:
            if self._run("add", (self._CLOSED_USERS, 1)) >= self.world_size:
                os.remove(self.path)
        except Exception:  # already removed, or collected while the interpreter shuts down: nothing to clean
            pass
