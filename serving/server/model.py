"""One loaded version of a model: its completed config, its instances, its scheduler and statistics."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from serving.errors import SessionError
from serving.server import classification, queue_policy, tensors
from serving.server import config as model_config
from serving.server.dtypes import NUMPY, from_config
from serving.server.errors import ModelLoadError, ServerError
from serving.server.scheduler import DirectScheduler, DynamicBatcher, Instance, Job
from serving.server.sequence_batcher import SequenceBatcher
from serving.server.stats import ModelStats
from serving.server.validation import RequestSchema

log = logging.getLogger("sardonyx.serve")


class ModelVersion:
    def __init__(self, name: str, version: int, config, instances: list[Instance],
                 labels: dict[str, list[str]] | None = None, model_dir: Path | None = None):
        self.name = name
        self.version = version
        self.config = config
        self.labels = labels or {}  # {output name: its classification labels}
        self.schema = RequestSchema(config)
        self.instances = instances
        self.stats = ModelStats()
        if config.HasField("dynamic_batching"):
            batching = config.dynamic_batching
            self.scheduler = DynamicBatcher(
                name, instances, self.stats, config.max_batch_size, batching.max_queue_delay_microseconds,
                batching.preferred_batch_size, queue_policy.Policies.from_config(batching))
        elif config.HasField("sequence_batching"):
            self.scheduler = SequenceBatcher(name, instances, self.stats, config, model_dir)
        else:
            self.scheduler = DirectScheduler(name, instances, self.stats)

    def infer(self, job: Job) -> dict[str, np.ndarray]:
        return self.scheduler.infer(job)

    def close(self, timeout: float) -> None:
        self.scheduler.close(timeout)


def load_version(model_dir: Path, name: str, version: int, file: model_config.ConfigFile, device: str,
                 default_max_batch_size: int) -> ModelVersion:
    """Build every instance of `version`, complete and check its config, run its warmup samples."""
    from serving.session import InferenceSession  # the runtime loads its kernels on first import

    filename = file.config.default_model_filename or model_config.DEFAULT_MODEL_FILENAME
    path = model_dir / str(version) / filename
    if not path.is_file():
        raise ModelLoadError(f"unable to find '{path}' for model '{name}' version {version}")
    instances, config = [], None
    groups = list(file.config.instance_group) or [None]
    try:
        for group_index, group in enumerate(groups):
            for index in range(group.count if group is not None and group.count > 0 else 1):
                session = InferenceSession(str(path), device=_instance_device(device, group, index))
                if config is None:
                    config = model_config.complete(file, name, session.get_inputs(), session.get_outputs(),
                                                   default_max_batch_size)
                instances.append(Instance(f"{config.instance_group[group_index].name}_{index}", session))
    except ModelLoadError:
        raise
    except SessionError as exc:
        raise ModelLoadError(f"failed to load '{name}' version {version}: {exc}") from exc
    except Exception as exc:  # a runtime bug must cost this version only, never the server
        raise ModelLoadError(f"failed to load '{name}' version {version}: {type(exc).__name__}: {exc}") from exc
    labels = classification.read_labels(model_dir, config)
    for sample in config.model_warmup:
        try:
            _warm_up(model_dir, config, sample, instances)
        except (ServerError, OSError, ValueError) as exc:
            raise ModelLoadError(f"warmup sample '{sample.name}' failed for model '{name}' version {version}: "
                                 f"{exc}") from exc
    return ModelVersion(name, version, config, instances, labels, model_dir)


def _instance_device(device: str, group, index: int) -> str:
    """`--device cuda` spreads a group's instances over the group's `gpus`, as Triton does."""
    if device.startswith("cuda") and group is not None and group.gpus:
        return f"cuda:{group.gpus[index % len(group.gpus)]}"
    return device


def _warm_up(model_dir: Path, config, sample, instances: list[Instance]) -> None:
    batching = config.max_batch_size > 0
    batch = max(1, sample.batch_size)
    feeds = {}
    rng = np.random.default_rng(0)
    for name, spec in sample.inputs.items():
        datatype = from_config(spec.data_type)
        shape = ([batch] if batching else []) + [int(d) for d in spec.dims]
        kind = spec.WhichOneof("input_data_type")
        if kind == "input_data_file":
            where = f"warmup input '{name}' for model '{config.name}'"
            array = tensors.from_raw((model_dir / "warmup" / spec.input_data_file).read_bytes(), datatype, shape,
                                     where)
        elif datatype == "BYTES":
            array = np.full(shape, b"", dtype=object)
        elif kind == "random_data":
            array = rng.random(shape).astype(NUMPY[datatype]) if datatype.startswith(("FP", "BF")) else \
                rng.integers(0, 2, shape).astype(NUMPY[datatype])
        else:
            array = np.zeros(shape, dtype=NUMPY[datatype])
        feeds[name] = array
    start = time.perf_counter()
    for instance in instances:
        for _ in range(max(1, sample.count)):
            instance.run(config.name, [o.name for o in config.output], feeds)
    log.info("warmed up model '%s' with sample '%s' in %.1f ms", config.name, sample.name,
             (time.perf_counter() - start) * 1e3)
