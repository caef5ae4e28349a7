"""Triton's queue policies for the dynamic batcher: priority levels, queue limits and queue timeouts.

config.pbtxt's `dynamic_batching { priority_levels, default_priority_level, default_queue_policy,
priority_queue_policy }` becomes `Policies`, and the batcher queues its requests in a `PriorityQueue`:
one FIFO per level, served from the highest level (1) down. As in Triton, a request's `priority` picks
its level, and 0 or a priority past `priority_levels` means the default level; without priority levels
there is one level (0) with the default policy, which is today's FIFO. A request's `timeout` only
shortens its level's `default_timeout_microseconds`, and only where `allow_timeout_override` is set.
A request still queued at its deadline is rejected (REJECT) or moved behind the requests of its level
that have not timed out (DELAY). `max_queue_size` bounds each level's queue.
"""

from __future__ import annotations

import bisect
import collections
from collections.abc import Iterator
from dataclasses import dataclass, field

from serving.server.errors import ModelLoadError, UnavailableError
from serving.server.protocol import config_pb


@dataclass(frozen=True)
class QueuePolicy:
    """One ModelQueuePolicy; `setting` names where it came from, for messages."""

    delay_on_timeout: bool = False  # timeout_action DELAY; REJECT otherwise
    default_timeout_us: int = 0  # 0: no timeout
    allow_timeout_override: bool = False
    max_queue_size: int = 0  # 0: unbounded
    setting: str = "dynamic_batching.default_queue_policy"

    @classmethod
    def from_config(cls, message, setting: str) -> QueuePolicy:
        return cls(message.timeout_action == config_pb.ModelQueuePolicy.DELAY, message.default_timeout_microseconds,
                   message.allow_timeout_override, message.max_queue_size, setting)

    def timeout_us(self, requested_us: int) -> int:
        """The timeout a request gets; Triton lets a request's own timeout only shorten the default one."""
        if self.allow_timeout_override and 0 < requested_us < self.default_timeout_us:
            return requested_us
        return self.default_timeout_us


@dataclass(frozen=True)
class Policies:
    """A dynamic batcher's priority levels and the queue policy of each."""

    levels: int = 0
    default_level: int = 0
    default: QueuePolicy = QueuePolicy()
    per_level: dict[int, QueuePolicy] = field(default_factory=dict)

    @classmethod
    def from_config(cls, batching) -> Policies:
        """From a checked ModelDynamicBatching message (see `check`)."""
        default = QueuePolicy.from_config(batching.default_queue_policy, "dynamic_batching.default_queue_policy")
        per_level = {level: QueuePolicy.from_config(policy, f"dynamic_batching.priority_queue_policy[{level}]")
                     for level, policy in batching.priority_queue_policy.items()}
        levels = batching.priority_levels
        return cls(levels, batching.default_priority_level if levels else 0, default, per_level)

    def level_of(self, priority: int) -> int:
        return priority if 0 < priority <= self.levels else self.default_level

    def policy(self, level: int) -> QueuePolicy:
        return self.per_level.get(level, self.default)


def check(config) -> None:
    """Triton's checks of a dynamic batcher's priority settings; raises ModelLoadError."""
    batching, name = config.dynamic_batching, config.name
    levels = batching.priority_levels
    if levels == 0:
        if batching.priority_queue_policy:
            raise ModelLoadError(f"priority_queue_policy is set for model '{name}' but priority_levels is 0; set "
                                 "dynamic_batching.priority_levels to give priority levels their own queue policies")
        return
    if not 1 <= batching.default_priority_level <= levels:
        raise ModelLoadError(f"default priority level must be in range [1, {levels}] for {name}")
    for level in batching.priority_queue_policy:
        if not 1 <= level <= levels:
            raise ModelLoadError(f"priority queue policy must have priority level in range [1, {levels}] for {name}")


class _Level:
    def __init__(self, policy: QueuePolicy):
        self.policy = policy
        self.waiting: collections.deque = collections.deque()  # in arrival order, not timed out
        self.delayed: collections.deque = collections.deque()  # timed out under DELAY, in timeout order

    def __len__(self) -> int:
        return len(self.waiting) + len(self.delayed)


class PriorityQueue:
    """The queued jobs of one dynamic batcher; not thread-safe (the batcher holds its lock)."""

    def __init__(self, model: str, policies: Policies):
        self._model = model
        self._policies = policies
        self._levels: dict[int, _Level] = {}
        self._order: list[int] = []  # the levels in _levels, highest priority (lowest number) first
        self._count = 0
        self._next_deadline = 0  # no queued job times out before this; 0: none does

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator:
        """The queued jobs in the order batches are formed: by level, then arrival, delayed ones last."""
        for level in self._order:
            queue = self._levels[level]
            yield from queue.waiting
            yield from queue.delayed

    def front(self):
        return next(iter(self))

    def push(self, job) -> None:
        """Queue `job` at its level; raise UnavailableError when that level's queue is full."""
        level = self._policies.level_of(job.schedule.priority)
        queue = self._levels.get(level)
        if queue is None:
            queue = self._levels[level] = _Level(self._policies.policy(level))
            bisect.insort(self._order, level)
        policy = queue.policy
        if policy.max_queue_size and len(queue) >= policy.max_queue_size:
            at = f" at priority level {level}" if self._policies.levels else ""
            raise UnavailableError(f"Exceeds maximum queue size: model '{self._model}' already queues "
                                   f"{len(queue)} requests{at} ({policy.setting}.max_queue_size)")
        timeout_us = policy.timeout_us(job.schedule.timeout_us)
        job.deadline_ns = job.enqueued_ns + timeout_us * 1000 if timeout_us else 0
        if job.deadline_ns and (not self._next_deadline or job.deadline_ns < self._next_deadline):
            self._next_deadline = job.deadline_ns
        queue.waiting.append(job)
        self._count += 1

    def expire(self, now_ns: int) -> list:
        """Apply the timeout action to every job queued past its deadline; return the rejected ones."""
        if not self._next_deadline or now_ns < self._next_deadline:
            return []
        rejected, next_deadline = [], 0
        for queue in self._levels.values():
            if not any(job.deadline_ns for job in queue.waiting):
                continue
            kept = collections.deque()
            for job in queue.waiting:
                if job.deadline_ns and now_ns >= job.deadline_ns:
                    job.deadline_ns = 0
                    if queue.policy.delay_on_timeout:
                        queue.delayed.append(job)
                    else:
                        rejected.append(job)
                        self._count -= 1
                else:
                    kept.append(job)
                    if job.deadline_ns and (not next_deadline or job.deadline_ns < next_deadline):
                        next_deadline = job.deadline_ns
            queue.waiting = kept
        self._next_deadline = next_deadline
        return rejected

    def remove(self, jobs: list) -> None:
        """Take `jobs` (queued ones, going into a batch) out of the queue."""
        taken = {id(job) for job in jobs}
        for queue in self._levels.values():
            queue.waiting = collections.deque(job for job in queue.waiting if id(job) not in taken)
            queue.delayed = collections.deque(job for job in queue.delayed if id(job) not in taken)
        self._count -= len(taken)
