"""The model repository: Triton's folder layout, version policies and model control modes.

    <root>/<model>/config.pbtxt            optional for ONNX models: completed from the model
    <root>/<model>/<version>/model.onnx    numeric version folders; default_model_filename renames the file

A model or version that fails to load is UNAVAILABLE with its reason; the others keep serving.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import json_format

from serving.server import config as model_config
from serving.server import ensemble
from serving.server.ensemble_loading import EnsembleLoader
from serving.server.errors import InvalidRequestError, ModelLoadError, NotFoundError, UnavailableError
from serving.server.model import ModelVersion, load_version
from serving.server.protocol import config_pb

log = logging.getLogger("sardonyx.serve")

CONTROL_MODES = ("none", "explicit", "poll")
READY, UNAVAILABLE, LOADING, UNLOADING = "READY", "UNAVAILABLE", "LOADING", "UNLOADING"


@dataclass
class _Entry:
    """What the repository knows about one model: its loaded versions and every version's state."""

    versions: dict[int, ModelVersion] = field(default_factory=dict)
    states: dict[int | None, tuple[str, str]] = field(default_factory=dict)  # None: the model as a whole
    signature: tuple = ()


def select_versions(available: list[int], policy) -> list[int]:
    """The versions a ModelVersionPolicy serves, highest first."""
    available = sorted(available, reverse=True)
    kind = policy.WhichOneof("policy_choice")
    if kind == "all":
        return available
    if kind == "specific":
        return sorted(set(policy.specific.versions), reverse=True)
    count = policy.latest.num_versions if kind == "latest" else 1
    return available[:max(1, count)]


class ModelRepository:
    def __init__(self, root: str | Path, device: str = "cpu", control_mode: str = "none",
                 default_max_batch_size: int = 4, unload_timeout: float = 30.0):
        if control_mode not in CONTROL_MODES:
            raise ValueError(f"model control mode must be one of {CONTROL_MODES}, got {control_mode!r}")
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"model repository {self.root} is not a directory")
        self.device = device
        self.control_mode = control_mode
        self._default_max_batch = default_max_batch_size
        self._unload_timeout = unload_timeout
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()  # guards _entries; loads themselves are serialised by _load_lock
        self._load_lock = threading.RLock()  # re-entrant: an ensemble's load loads its members first
        self.ensembles = EnsembleLoader(self)
        self.on_change = lambda: None  # called after every load and unload (the server refreshes health)

    # Discovery.

    def model_names(self) -> list[str]:
        # Hidden folders and Python's bytecode cache (beside a script such as models/generate.py) are no models.
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and p.name != "__pycache__")

    def _signature(self, name: str) -> tuple:
        """Changes when any file of the model changes: what `poll` mode watches."""
        folder = self.root / name
        return tuple(sorted((str(p.relative_to(folder)), p.stat().st_mtime_ns, p.stat().st_size)
                            for p in folder.rglob("*") if p.is_file()))

    # Control.

    def load_initial(self, models: list[str] | None = None) -> None:
        """Startup: every model for `none`/`poll`; for `explicit`, the `--load-model` names (`*`: all)."""
        if self.control_mode == "explicit":
            names = self.model_names() if models and "*" in models else list(models or ())
        else:
            names = self.model_names()
        for name in self.ensembles.load_order(names):
            self._load_logged(name)

    def _load_logged(self, name: str) -> None:
        """Load where no client waits for the answer: failures are logged (load() logs its own)."""
        try:
            self.load(name)
        except ModelLoadError:
            pass
        except NotFoundError as exc:
            log.error("%s", exc)

    def require_explicit(self) -> None:
        if self.control_mode != "explicit":
            raise UnavailableError(f"explicit model load / unload is not allowed when the model control mode is "
                                   f"'{self.control_mode}'; start the server with --model-control-mode explicit")

    def load(self, name: str, config_json: str | None = None) -> None:
        """Load (or reload) every version the policy selects. Raises ModelLoadError if none became ready."""
        try:
            self._load(name, config_json)
        finally:
            self.ensembles.member_loaded(name)
            self.on_change()

    def _load(self, name: str, config_json: str | None) -> None:
        folder = self.root / name
        if not folder.is_dir() or name.startswith(".") or "/" in name or name in ("", ".."):
            raise NotFoundError(
                f"failed to load '{name}': no model folder '{name}' in the model repository {self.root}")
        with self._load_lock:
            signature = self._signature(name)
            self._set_state(name, None, LOADING, "")
            try:
                file = model_config.read(folder)
                if config_json is not None:
                    file = _override(config_json)
            except ModelLoadError as exc:
                self._fail(name, str(exc))
                raise
            for line in _ignored_lines(name, file):
                log.warning("%s", line)
            if ensemble.is_ensemble(file.config):
                self.ensembles.load(name, file, signature)
                return
            self.ensembles.forget(name)
            available = [int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit()]
            wanted = select_versions(available, file.config.version_policy)
            if not wanted:
                reason = f"no version folder (1, 2, ...) under {folder} for model '{name}'"
                self._fail(name, reason)
                raise ModelLoadError(reason)
            loaded, states = {}, {}
            for version in wanted:
                log.info("loading model '%s' version %d", name, version)
                try:
                    if version not in available:
                        raise ModelLoadError(f"version {version} of model '{name}' is in its version policy but "
                                             f"{folder / str(version)} does not exist")
                    loaded[version] = load_version(folder, name, version, file, self.device, self._default_max_batch)
                    states[version] = (READY, "")
                    log.info("successfully loaded model '%s' version %d", name, version)
                except ModelLoadError as exc:
                    states[version] = (UNAVAILABLE, str(exc))
                    log.error("%s", exc)
            self._swap(name, loaded, states, signature)
        if not loaded:
            raise ModelLoadError(f"failed to load '{name}': " + "; ".join(r for _, r in states.values()))

    def unload(self, name: str) -> None:
        """Unload every version; a model that failed to load is cleared too (its failure no longer counts)."""
        with self._load_lock:
            with self._lock:
                entry = self._entries.get(name)
                if entry is None:
                    if name not in self.model_names():
                        raise NotFoundError(f"failed to unload '{name}': no model of that name in the repository")
                    return
                for version in entry.versions:
                    entry.states[version] = (UNLOADING, "")
                old, entry.versions = entry.versions, {}
            self._close(name, old)
            with self._lock:
                entry.states = {v: (UNAVAILABLE, "unloaded") for v in entry.states if v is not None}
        self.ensembles.unloaded(name)
        self.on_change()

    def poll(self) -> None:
        """`poll` mode: load new or changed models, unload removed ones."""
        present = set(self.model_names())
        for name in sorted(present):
            entry = self._entries.get(name)
            if entry is None or entry.signature != self._signature(name):
                self._load_logged(name)
        for name in sorted(set(self._entries) - present):
            if self._entries[name].versions:
                log.info("model folder '%s' was removed: unloading it", name)
                self.unload(name)
            with self._lock:
                self._entries.pop(name, None)

    def close(self) -> None:
        """Unload everything, letting queued requests finish (bounded by the unload timeout)."""
        for name in self.ensembles.unload_order(list(self._entries)):
            self.unload(name)

    def _swap(self, name: str, loaded: dict, states: dict, signature: tuple) -> None:
        with self._lock:
            entry = self._entries.setdefault(name, _Entry())
            if not loaded and entry.versions:
                # Triton's rule: a failed reload leaves the versions that were serving untouched.
                entry.states.update({v: s for v, s in states.items() if v not in entry.versions})
                entry.states.pop(None, None)
                entry.signature = signature  # `poll` retries only once the files change again
                return
            old = {v: m for v, m in entry.versions.items()}
            entry.versions = loaded
            entry.states = {v: s for v, s in entry.states.items() if v is not None and s[0] == UNAVAILABLE}
            entry.states.update(states)
            for version in old:
                entry.states.setdefault(version, (UNAVAILABLE, "unloaded"))
            entry.signature = signature
        self._close(name, old)

    def _close(self, name: str, versions: dict[int, ModelVersion]) -> None:
        for version, model in versions.items():
            model.close(self._unload_timeout)
            log.info("successfully unloaded model '%s' version %d", name, version)

    def _set_state(self, name: str, version: int | None, state: str, reason: str) -> None:
        with self._lock:
            self._entries.setdefault(name, _Entry()).states[version] = (state, reason)

    def _fail(self, name: str, reason: str) -> None:
        log.error("%s", reason)
        with self._lock:
            entry = self._entries.setdefault(name, _Entry())
            entry.states[None] = (UNAVAILABLE, reason)
            entry.signature = self._signature(name)

    # Lookup.

    def get(self, name: str, version: str = "") -> ModelVersion:
        """The version a request names (the highest ready one when `version` is empty)."""
        with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                raise NotFoundError(f"Request for unknown model: '{name}' is not found")
            if not version:
                if not entry.versions:
                    reason = entry.states.get(None, ("", ""))[1] or "; ".join(
                        f"version {v}: {r}" for v, (_, r) in entry.states.items() if v is not None and r)
                    raise UnavailableError(f"Request for unknown model: '{name}' has no available versions"
                                      + (f" ({reason})" if reason else ""))
                return entry.versions[max(entry.versions)]
            number = int(version) if version.isdigit() else None
            if number in entry.versions:
                return entry.versions[number]
            if number in entry.states:
                state, reason = entry.states[number]
                raise UnavailableError(f"Request for unavailable model: '{name}' version {version} is {state}"
                                  + (f": {reason}" if reason else ""))
            raise NotFoundError(f"Request for unknown model: '{name}' version {version} is not found")

    def all_ready(self) -> bool:
        """Triton's strict readiness: every model the repository tried to load serves (or was unloaded)."""
        with self._lock:
            for entry in self._entries.values():
                if not entry.versions and any(s != (UNAVAILABLE, "unloaded") for s in entry.states.values()):
                    return False
        return True

    def is_ready(self, name: str, version: str = "") -> bool:
        try:
            self.get(name, version)
        except (NotFoundError, UnavailableError):
            return False
        return True

    def loaded(self) -> list[ModelVersion]:
        with self._lock:
            return [m for _, e in sorted(self._entries.items()) for _, m in sorted(e.versions.items())]

    def index(self, ready_only: bool = False) -> list[tuple[str, str, str, str]]:
        """(name, version, state, reason) rows; a model never loaded shows only its name, as in Triton."""
        rows = []
        with self._lock:
            for name in sorted(set(self.model_names()) | set(self._entries)):
                entry = self._entries.get(name)
                states = dict(entry.states) if entry else {}
                if not states:
                    if not ready_only:
                        rows.append((name, "", "", ""))
                    continue
                for version, (state, reason) in sorted(states.items(), key=lambda kv: -1 if kv[0] is None else kv[0]):
                    if not ready_only or state == READY:
                        rows.append((name, "" if version is None else str(version), state, reason))
        return rows


def _override(config_json: str) -> model_config.ConfigFile:
    """The `config` parameter of RepositoryModelLoad: a JSON ModelConfig that replaces config.pbtxt."""
    config = config_pb.ModelConfig()
    try:
        json_format.Parse(config_json, config)
    except json_format.ParseError as exc:
        raise InvalidRequestError(f"the 'config' load parameter is not a valid JSON ModelConfig: {exc}") from exc
    mentioned = {f.name for f, _ in config.ListFields()}
    return model_config.ConfigFile(config, [], mentioned)


def _ignored_lines(name: str, file: model_config.ConfigFile) -> list[str]:
    ignored = model_config.ignored_fields(file)
    if not ignored:
        return []
    return [f"model '{name}': config.pbtxt sets fields sardonyx-serve does not act on, ignored: {', '.join(ignored)}"]
