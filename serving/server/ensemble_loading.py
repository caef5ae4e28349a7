"""The model repository's side of ensembles: load them after their members, follow their members' changes.

Triton's rules: an ensemble loads once every model it runs serves (a member not tried yet is loaded
first, so `--load-model <ensemble>` brings its members); a member that fails makes the ensemble
UNAVAILABLE with a reason naming it; unloading a member makes its ensembles UNAVAILABLE, and loading
it again reloads them (checked anew against the member's new config).
"""

from __future__ import annotations

import logging

from serving.server import classification, ensemble
from serving.server import config as model_config
from serving.server.errors import ModelLoadError, NotFoundError, UnavailableError

log = logging.getLogger("sardonyx.serve")


class EnsembleLoader:
    def __init__(self, repository):
        self._repository = repository
        self._members: dict[str, set[str]] = {}  # ensemble -> the models it runs, for every ensemble tried
        self._loading: list[str] = []  # ensembles being loaded (nested when an ensemble runs another)
        self._refreshing: set[str] = set()  # models whose dependents are being reloaded (nested likewise)

    def load_order(self, names: list[str]) -> list[str]:
        """`names` with each ensemble after the models it runs, so that none is loaded twice at startup."""
        runs = {}
        for name in names:
            try:
                config = model_config.read(self._repository.root / name).config
            except ModelLoadError:
                continue  # its own load reports the problem
            if ensemble.is_ensemble(config):
                runs[name] = [step.model_name for step in config.ensemble_scheduling.step]
        return _members_first(names, runs)

    def unload_order(self, names: list[str]) -> list[str]:
        """`names` with each ensemble before the models it runs, so that shutting down withdraws none."""
        return _members_first(names, self._members)[::-1]

    def load(self, name: str, file: model_config.ConfigFile, signature: tuple) -> None:
        """Load the ensemble `name` (the repository holds its load lock). Raises ModelLoadError if no version serves."""
        from serving.server.repository import READY, UNAVAILABLE, select_versions  # repository imports this module

        repository = self._repository
        try:
            config = ensemble.complete(file, name)
            steps = ensemble.plan(config)
            labels = classification.read_labels(repository.root / name, config)
        except ModelLoadError as exc:
            self.forget(name)
            repository._fail(name, str(exc))
            raise
        for field in ensemble.ignored_fields(config):
            log.warning("ensemble '%s': config.pbtxt sets '%s', which ensembles do not use; ignored", name, field)
        self._members[name] = {step.model for step in steps}
        folder = repository.root / name
        # Version folders are optional for an ensemble, which has no files of its own: without one it is version 1.
        available = [int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit()] or [1]
        failure = ""
        self._loading.append(name)
        try:
            members = {(step.model, step.version): self._member(name, step) for step in steps}
            ensemble.check_members(config, steps, members)
        except ModelLoadError as exc:
            failure = str(exc)
        finally:
            self._loading.pop()
        loaded, states = {}, {}
        for version in select_versions(available, config.version_policy):
            if failure:
                states[version] = (UNAVAILABLE, failure)
            elif version not in available:
                states[version] = (UNAVAILABLE, f"version {version} of ensemble '{name}' is in its version policy "
                                                f"but {folder / str(version)} does not exist")
            else:
                loaded[version] = ensemble.EnsembleModel(name, version, config, steps, repository.get, labels)
                states[version] = (READY, "")
                log.info("successfully loaded ensemble '%s' version %d", name, version)
        for _, reason in states.values():
            if reason:
                log.error("%s", reason)
        repository._swap(name, loaded, states, signature)
        if not loaded:
            raise ModelLoadError(f"failed to load '{name}': " + "; ".join(dict.fromkeys(r for _, r in states.values())))

    def _member(self, name: str, step: ensemble.Step):
        """The member version a step runs, loading the member first if the repository never tried it."""
        repository = self._repository
        if step.model in self._loading:
            raise ModelLoadError(f"ensemble '{name}': {step} runs an ensemble that runs '{name}' in turn; "
                                 "ensembles cannot form a cycle")
        if not self._tried(step.model) and step.model in repository.model_names():
            try:
                repository.load(step.model)
            except ModelLoadError:
                pass  # the reason is the member's state, read just below
        try:
            return repository.get(step.model, step.version)
        except NotFoundError:
            what = f"version {step.version} of model '{step.model}'" if step.version else f"model '{step.model}'"
            raise ModelLoadError(f"ensemble '{name}': {step} is not available: the repository has no {what}") from None
        except UnavailableError:
            raise ModelLoadError(f"ensemble '{name}': {step} is not available: {self._reason(step.model)}") from None

    def _reason(self, model: str) -> str:
        """Why `model` does not serve, in the words of its own failures."""
        with self._repository._lock:
            entry = self._repository._entries.get(model)
            reasons = [reason for _, reason in entry.states.values() if reason] if entry else []
        return "; ".join(dict.fromkeys(reasons)) or f"model '{model}' has no version serving"

    def _tried(self, model: str) -> bool:
        """Whether the repository loaded `model` or failed to; a model never loaded or unloaded was not tried."""
        from serving.server.repository import UNAVAILABLE  # repository imports this module

        with self._repository._lock:
            entry = self._repository._entries.get(model)
            return entry is not None and (bool(entry.versions) or any(
                state != (UNAVAILABLE, "unloaded") for state in entry.states.values()))

    def forget(self, name: str) -> None:
        """`name` is no ensemble any more (its config changed): its members' changes no longer concern it."""
        self._members.pop(name, None)

    def member_loaded(self, name: str) -> None:
        """After any load of `name`, successful or not: reload the ensembles that run it."""
        with self._repository._load_lock:
            if name in self._refreshing:
                return
            self._refreshing.add(name)
            try:
                # An ensemble being refreshed further up is not reloaded again: ensembles that run each other
                # in a cycle would otherwise reload each other forever.
                for dependent in (d for d in self._dependents(name) if d not in self._refreshing):
                    try:
                        self._repository.load(dependent)
                    except (ModelLoadError, NotFoundError) as exc:
                        # Checked against the member's new config, the ensemble must not keep serving the old check.
                        self._withdraw(dependent, exc.message if isinstance(exc, NotFoundError) else str(exc))
            finally:
                self._refreshing.discard(name)

    def unloaded(self, name: str) -> None:
        """After `name` is unloaded: it is no ensemble to follow any more, and the ensembles it serves stop."""
        with self._repository._load_lock:
            self.forget(name)
            for dependent in self._dependents(name):
                self._withdraw(dependent, f"member model '{name}' of ensemble '{dependent}' was unloaded")

    def _dependents(self, name: str) -> list[str]:
        return sorted(e for e, members in self._members.items() if name in members and e not in self._loading)

    def _withdraw(self, name: str, reason: str) -> None:
        from serving.server.repository import UNAVAILABLE  # repository imports this module

        repository = self._repository
        with repository._lock:
            entry = repository._entries.get(name)
            if entry is None:
                return
            old, entry.versions = entry.versions, {}
            versions = {v for v in entry.states if v is not None} | set(old)
            entry.states = {v: (UNAVAILABLE, reason) for v in versions} or {None: (UNAVAILABLE, reason)}
        log.error("ensemble '%s' is unavailable: %s", name, reason)
        repository._close(name, old)


def _members_first(names: list[str], runs: dict) -> list[str]:
    """`names` in their order, except that each ensemble (a key of `runs`) comes after the models it runs."""
    wanted, ordered, placed = set(names), [], set()

    def place(name: str, path: frozenset) -> None:
        if name in placed or name in path:  # a cycle: the ensemble's load reports it
            return
        for member in sorted(runs.get(name, ())):
            if member in wanted:
                place(member, path | {name})
        placed.add(name)
        ordered.append(name)

    for name in names:
        place(name, frozenset())
    return ordered
