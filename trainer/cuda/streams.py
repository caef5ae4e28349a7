"""CUDA streams and events, as ``torch.cuda.Stream``/``Event``, wrapping ``cupy.cuda.Stream``/``Event``.

``with trainer.cuda.stream(s):`` makes ``s`` CuPy's current stream, so every kernel trainer launches inside the
block is queued on it. Without CUDA, streams and events cannot be made (a RuntimeError, as in PyTorch's CPU-only
build), while ``stream(None)`` stays a no-op context.
"""

from __future__ import annotations

from trainer import backend
from trainer.backend import _cupy
from trainer.cuda.device_management import cuda_device, device_index, require_cuda


class Stream:
    """A CUDA stream on one device. ``priority``: lower numbers run first; 0 is the default. Like PyTorch's streams
    it does not synchronise with the legacy default stream."""

    def __init__(self, device=None, priority: int = 0):  # noqa: A002 - PyTorch's parameter name
        cupy = require_cuda(RuntimeError)
        index = device_index(device)
        with cupy.cuda.Device(index):
            self._init(cupy.cuda.Stream(non_blocking=True, priority=priority), index)

    def _init(self, cupy_stream, index: int) -> None:
        self._stream = cupy_stream
        self.device = backend.device("cuda", index)

    @classmethod
    def _wrap(cls, cupy_stream, index: int) -> Stream:
        """A Stream for an existing CuPy stream (the current or the default one) without creating a new one."""
        stream = cls.__new__(cls)
        stream._init(cupy_stream, index)
        return stream

    @property
    def device_index(self) -> int:
        return self.device.index

    @property
    def cuda_stream(self) -> int:
        """The raw ``cudaStream_t`` handle, as an int."""
        return self._stream.ptr

    def query(self) -> bool:
        """Whether all work queued on this stream has finished."""
        return self._stream.done

    def synchronize(self) -> None:
        """Wait until all work queued on this stream has finished."""
        self._stream.synchronize()

    def wait_event(self, event: Event) -> None:
        """Make work queued on this stream from now on wait until ``event`` has completed."""
        self._stream.wait_event(event._event)

    def wait_stream(self, stream: Stream) -> None:
        """Make work queued on this stream from now on wait for all work queued on ``stream`` so far."""
        self.wait_event(stream.record_event())

    def record_event(self, event: Event | None = None) -> Event:
        """Record ``event`` (a new one by default) on this stream and return it."""
        event = Event() if event is None else event
        event.record(self)
        return event

    def __eq__(self, other):
        return isinstance(other, Stream) and (self.cuda_stream, self.device) == (other.cuda_stream, other.device)

    def __hash__(self):
        return hash((self.cuda_stream, self.device))

    def __repr__(self):
        return f"<trainer.cuda.Stream device={self.device} cuda_stream={self.cuda_stream:#x}>"


class Event:
    """A CUDA event: a point in a stream's queue to wait for or to time from. ``enable_timing`` is needed for
    ``elapsed_time``; ``blocking`` makes ``synchronize`` sleep instead of spin; ``interprocess`` events can be
    shared with other processes."""

    def __init__(self, enable_timing: bool = False, blocking: bool = False, interprocess: bool = False):
        cupy = require_cuda(RuntimeError)
        self._event = cupy.cuda.Event(block=blocking, disable_timing=not enable_timing, interprocess=interprocess)

    @property
    def cuda_event(self) -> int:
        """The raw ``cudaEvent_t`` handle, as an int."""
        return self._event.ptr

    def record(self, stream: Stream | None = None) -> None:
        """Record the event on ``stream`` (the current stream by default)."""
        stream = current_stream() if stream is None else stream
        self._event.record(stream._stream)

    def wait(self, stream: Stream | None = None) -> None:
        """Make work queued on ``stream`` (the current stream by default) from now on wait for this event."""
        stream = current_stream() if stream is None else stream
        stream.wait_event(self)

    def query(self) -> bool:
        """Whether the work recorded before this event has finished."""
        return self._event.done

    def synchronize(self) -> None:
        """Wait until the work recorded before this event has finished."""
        self._event.synchronize()

    def elapsed_time(self, end_event: Event) -> float:
        """Milliseconds between this event and ``end_event``, both recorded, finished and made with
        ``enable_timing=True``."""
        return _cupy().cuda.get_elapsed_time(self._event, end_event._event)

    def __repr__(self):
        return f"<trainer.cuda.Event {self.cuda_event:#x}>"


def current_stream(device=None) -> Stream:  # noqa: A002
    """The stream kernels on ``device`` (the current device by default) are queued on now."""
    cupy = require_cuda()
    index = device_index(device)
    with cupy.cuda.Device(index):
        return Stream._wrap(cupy.cuda.get_current_stream(), index)


def default_stream(device=None) -> Stream:  # noqa: A002
    """``device``'s default stream: the legacy null stream, as in PyTorch."""
    cupy = require_cuda()
    return Stream._wrap(cupy.cuda.Stream.null, device_index(device))


class StreamContext:
    """``with StreamContext(s):`` queues the block's kernels on ``s``, switching to its device for the block when
    it lives on another one; a no-op for ``None``."""

    def __init__(self, stream: Stream | None):
        self.stream = stream
        self._entered = []

    def __enter__(self):
        if self.stream is None:
            return
        for context in (cuda_device(self.stream.device_index), self.stream._stream):
            context.__enter__()
            self._entered.append(context)

    def __exit__(self, *exc):
        while self._entered:
            self._entered.pop().__exit__(*exc)
        return False


def stream(stream: Stream | None) -> StreamContext:
    """``with trainer.cuda.stream(s):``: queue the block's kernels on ``s`` (a no-op for ``None``)."""
    return StreamContext(stream)
