"""``trainer.hub``: torch.hub's API: entry points from a ``hubconf.py`` (a local folder or a GitHub repository
downloaded into the hub cache) and checkpoints downloaded from URLs and cached.

The cache folder follows torch.hub's rules exactly (``$TORCH_HOME/hub``, ``$TORCH_HOME`` defaulting to
``$XDG_CACHE_HOME/torch``, that to ``~/.cache``), so trainer and PyTorch share one cache, trusted-repository list
and set of downloaded repositories. Checkpoints are read with ``trainer.load``: safetensors files (those written
by ``trainer.save`` or any safetensors writer) and files written by ``torch.save``, whose pickle is read as
``torch.load(weights_only=True)`` reads it, never running code from it.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import hashlib
import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
import uuid
import warnings
import zipfile
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlparse

from trainer.serialization import load as _load_checkpoint

__all__ = ["download_url_to_file", "get_dir", "help", "list", "load", "load_state_dict_from_url", "set_dir"]

# matches bfd8deac from resnet18-bfd8deac.pth
HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")
_PATH_SEP_PATTERN = re.compile(r"[/\\]")

_TRUSTED_REPO_OWNERS = ("facebookresearch", "facebookincubator", "pytorch", "fairinternal")
ENV_GITHUB_TOKEN = "GITHUB_TOKEN"
ENV_TORCH_HOME = "TORCH_HOME"
ENV_XDG_CACHE_HOME = "XDG_CACHE_HOME"
DEFAULT_CACHE_DIR = "~/.cache"
VAR_DEPENDENCY = "dependencies"
MODULE_HUBCONF = "hubconf.py"
READ_DATA_CHUNK = 128 * 1024

# Where GitHub's web site and REST API are reached; the tests point these at a local HTTP server.
_GITHUB_URL = "https://github.com"
_GITHUB_API_URL = "https://api.github.com"

_hub_dir: str | None = None


# ------------------------------------------------------------------ the cache folder


def _get_torch_home() -> str:
    default = os.path.join(os.getenv(ENV_XDG_CACHE_HOME, DEFAULT_CACHE_DIR), "torch")
    return os.path.expanduser(os.getenv(ENV_TORCH_HOME, default))


def get_dir() -> str:
    """The hub cache folder: the one given to ``set_dir``, else ``$TORCH_HOME/hub`` (``$TORCH_HOME`` defaulting
    to ``$XDG_CACHE_HOME/torch``, and ``$XDG_CACHE_HOME`` to ``~/.cache``)."""
    if os.getenv("TORCH_HUB"):
        warnings.warn("TORCH_HUB is deprecated, please use env TORCH_HOME instead", stacklevel=2)
    if _hub_dir is not None:
        return _hub_dir
    return os.path.join(_get_torch_home(), "hub")


def set_dir(d: str | os.PathLike) -> None:
    """Use the folder ``d`` (``~`` expanded) as the hub cache from now on."""
    global _hub_dir
    _hub_dir = os.path.expanduser(d)


# ------------------------------------------------------------------ downloads


def download_url_to_file(url: str, dst: str, hash_prefix: str | None = None, progress: bool = True) -> None:
    """Download ``url`` (http(s), ftp or file) to the path ``dst``.

    The data goes to a temporary file next to ``dst`` that is renamed over ``dst`` once complete (and, when
    ``hash_prefix`` is given, once its SHA-256 hex digest is found to start with it), so a failed download never
    leaves a broken ``dst``. ``progress`` shows a tqdm bar on stderr.
    """
    # Imported here: urllib.request (http.client, email, ssl) and tqdm would add ~25 ms to every `import trainer`.
    from urllib.request import Request, urlopen

    from tqdm import tqdm

    dst = os.path.expanduser(dst)
    # Not NamedTemporaryFile: its restrictive permissions would carry over to the downloaded file.
    for _ in range(tempfile.TMP_MAX):
        tmp_dst = dst + "." + uuid.uuid4().hex + ".partial"
        try:
            f = open(tmp_dst, "w+b")
        except FileExistsError:
            continue
        break
    else:
        raise FileExistsError(errno.EEXIST, "No usable temporary file name found")
    try:
        with urlopen(Request(url, headers={"User-Agent": "trainer.hub"})) as response:
            content_length = response.info().get_all("Content-Length")
            file_size = int(content_length[0]) if content_length else None
            sha256 = hashlib.sha256() if hash_prefix is not None else None
            with tqdm(total=file_size, disable=not progress, unit="B", unit_scale=True, unit_divisor=1024) as bar:
                while buffer := response.read(READ_DATA_CHUNK):
                    f.write(buffer)
                    if sha256 is not None:
                        sha256.update(buffer)
                    bar.update(len(buffer))
            f.close()
            if sha256 is not None:
                digest = sha256.hexdigest()
                if digest[: len(hash_prefix)] != hash_prefix:
                    raise RuntimeError(f'invalid hash value (expected "{hash_prefix}", got "{digest}")')
        shutil.move(f.name, dst)
    finally:
        f.close()
        if os.path.exists(f.name):
            os.remove(f.name)


def _safe_extract_zip(zip_file: zipfile.ZipFile, extract_to: str) -> None:
    """Extract every member of ``zip_file`` under ``extract_to``, refusing members that would land outside it."""
    extract_to = Path(extract_to).resolve(strict=False)
    for member in zip_file.infolist():
        filename = os.path.normpath(member.filename)
        if filename.startswith(("/", "\\")) or (len(filename) >= 2 and filename[1] == ":" and filename[0].isalpha()):
            raise ValueError(f"Archive entry has absolute path: {member.filename}")
        if ".." in re.split(_PATH_SEP_PATTERN, filename):
            raise ValueError(f"Archive entry contains directory traversal: {member.filename}")
        if not (extract_to / filename).resolve(strict=False).is_relative_to(extract_to):
            raise ValueError(f"Archive entry escapes target directory: {member.filename}")
        zip_file.extract(member, extract_to)


def _is_legacy_zip_format(filename: str) -> bool:
    """A zip archive holding exactly one file: how checkpoints were once shipped, which torch.hub unpacks."""
    if zipfile.is_zipfile(filename):
        with zipfile.ZipFile(filename) as archive:
            members = archive.infolist()
        return len(members) == 1 and not members[0].is_dir()
    return False


def _legacy_zip_load(filename: str, model_dir: str, map_location, weights_only: bool):
    warnings.warn(f"{filename} is a zip archive holding one checkpoint file; trainer.hub extracts it into "
                  f"{model_dir} and loads that file. PyTorch deprecates this form: publish the checkpoint file "
                  f"itself instead.", FutureWarning, stacklevel=3)
    with zipfile.ZipFile(filename) as archive:
        _safe_extract_zip(archive, model_dir)
        extracted_file = os.path.join(model_dir, archive.infolist()[0].filename)
    return _load_checkpoint(extracted_file, map_location=map_location, weights_only=weights_only)


def load_state_dict_from_url(url: str, model_dir: str | None = None, map_location=None, progress: bool = True,
                             check_hash: bool = False, file_name: str | None = None, weights_only: bool = False):
    """Download the checkpoint at ``url`` into ``model_dir`` (default ``<hub_dir>/checkpoints``) unless a file of
    that name is already there, and return it read with ``trainer.load``.

    ``file_name`` names the cached file (default: the last part of the URL's path). With ``check_hash``, a file
    name of the form ``name-<hex>.ext`` gives a prefix the download's SHA-256 must start with. A zip archive
    holding a single file is extracted and that file loaded, as torch.hub does.
    """
    if os.getenv("TORCH_MODEL_ZOO"):
        warnings.warn("TORCH_MODEL_ZOO is deprecated, please use env TORCH_HOME instead", stacklevel=2)
    if model_dir is None:
        model_dir = os.path.join(get_dir(), "checkpoints")
    os.makedirs(model_dir, exist_ok=True)

    filename = file_name if file_name is not None else os.path.basename(urlparse(url).path)
    cached_file = os.path.join(model_dir, filename)
    if not os.path.exists(cached_file):
        sys.stdout.write(f'Downloading: "{url}" to {cached_file}\n')
        match = HASH_REGEX.search(filename) if check_hash else None
        download_url_to_file(url, cached_file, match.group(1) if match else None, progress=progress)

    if _is_legacy_zip_format(cached_file):
        return _legacy_zip_load(cached_file, model_dir, map_location, weights_only)
    return _load_checkpoint(cached_file, map_location=map_location, weights_only=weights_only)


# ------------------------------------------------------------------ GitHub repositories in the cache


def _parse_repo_info(github: str):
    """``(owner, name, ref)`` of ``"owner/name[:ref]"``; without a ref, ``main`` if the repository has that
    branch, else ``master`` (offline: whichever of the two is in the cache)."""
    repo_info, _, ref = github.partition(":")
    if ":" in ref or repo_info.count("/") != 1:
        raise ValueError(f'Invalid GitHub repository "{github}": expected "repo_owner/repo_name[:ref]", e.g. '
                         f'"pytorch/vision:0.10"')
    repo_owner, repo_name = repo_info.split("/")
    if ref:
        return repo_owner, repo_name, ref
    from urllib.request import urlopen

    try:
        with urlopen(f"{_GITHUB_URL}/{repo_owner}/{repo_name}/tree/main/"):
            return repo_owner, repo_name, "main"
    except HTTPError as e:
        if e.code == 404:
            return repo_owner, repo_name, "master"
        raise
    except URLError as e:  # offline: the cache is the last resort
        for possible_ref in ("main", "master"):
            if os.path.exists(f"{get_dir()}/{repo_owner}_{repo_name}_{possible_ref}"):
                return repo_owner, repo_name, possible_ref
        raise RuntimeError("It looks like there is no internet connection and the "
                           f"repo could not be found in the cache ({get_dir()})") from e


def _read_json(url: str, headers: dict):
    from urllib.request import Request, urlopen

    with urlopen(Request(url, headers=headers)) as response:
        return json.loads(response.read().decode(response.headers.get_content_charset("utf-8")))


def _validate_not_a_forked_repo(repo_owner: str, repo_name: str, ref: str) -> None:
    """Raise unless ``ref`` is a branch, tag or commit-hash prefix of the repository itself: GitHub serves a
    fork's commits under the parent's name too, so a ref alone does not prove whose code is downloaded."""
    headers = {"Accept": "application/vnd.github.v3+json"}
    token = os.environ.get(ENV_GITHUB_TOKEN)
    if token is not None:
        headers["Authorization"] = f"token {token}"
    for url_prefix in (f"{_GITHUB_API_URL}/repos/{repo_owner}/{repo_name}/branches",
                       f"{_GITHUB_API_URL}/repos/{repo_owner}/{repo_name}/tags"):
        page = 0
        while True:
            page += 1
            url = f"{url_prefix}?per_page=100&page={page}"
            try:
                response = _read_json(url, headers)
            except HTTPError:
                if "Authorization" not in headers:
                    raise
                del headers["Authorization"]  # retry without the token, in case it lacks the permissions
                response = _read_json(url, headers)
            if not response:
                break
            if any(item["name"] == ref or item["commit"]["sha"].startswith(ref) for item in response):
                return
    raise ValueError(f"Cannot find {ref} in {_GITHUB_URL}/{repo_owner}/{repo_name}. "
                     "If it's a commit from a forked repo, please call hub.load() with forked repo directly.")


def _git_archive_link(repo_owner: str, repo_name: str, ref: str) -> str:
    return f"{_GITHUB_URL}/{repo_owner}/{repo_name}/zipball/{ref}"


def _remove_if_exists(path: str) -> None:
    if os.path.isfile(path):
        os.remove(path)
    elif os.path.exists(path):
        shutil.rmtree(path)


def _check_repo_is_trusted(repo_owner: str, repo_name: str, owner_name_branch: str, trust_repo) -> None:
    """torch.hub's trust rules: ``trust_repo=False`` always asks, ``"check"`` asks unless the repository is in
    ``<hub_dir>/trusted_list``, already downloaded, or owned by PyTorch's own organisations; a trusted answer (or
    ``True``/``None``) adds it to the list."""
    hub_dir = get_dir()
    filepath = os.path.join(hub_dir, "trusted_list")
    if not os.path.exists(filepath):
        Path(filepath).touch()
    with open(filepath) as file:
        trusted_repos = tuple(line.strip() for line in file)
    # Repositories downloaded before the trust list existed count as trusted.
    trusted_repos_legacy = next(os.walk(hub_dir))[1]

    owner_name = f"{repo_owner}_{repo_name}"
    is_trusted = (owner_name in trusted_repos or owner_name_branch in trusted_repos_legacy
                  or repo_owner in _TRUSTED_REPO_OWNERS)
    if trust_repo is False or (trust_repo == "check" and not is_trusted):
        response = input(
            f"The repository {owner_name} does not belong to the list of trusted repositories and as such cannot be "
            "downloaded. Do you trust this repository and wish to add it to the trusted list of repositories (y/N)?"
        )
        if response.lower() in ("y", "yes"):
            if is_trusted:
                print("The repository is already trusted.")
        elif response.lower() in ("n", "no", ""):
            raise Exception("Untrusted repository.")  # the exception type torch.hub raises
        else:
            raise ValueError(f"Unrecognized response {response}.")
    if not is_trusted:
        with open(filepath, "a") as file:
            file.write(owner_name + "\n")


def _download_repo_archive(repo_owner: str, repo_name: str, ref: str, cached_file: str) -> None:
    url = _git_archive_link(repo_owner, repo_name, ref)
    sys.stdout.write(f'Downloading: "{url}" to {cached_file}\n')
    try:
        download_url_to_file(url, cached_file, progress=False)
    except HTTPError as err:
        if err.code != 300:
            raise
        # 300 Multiple Choices: the ref names both a tag and a branch. Like git, warn and take the branch.
        warnings.warn(f"The ref {ref} is ambiguous. Perhaps it is both a tag and a branch in the repo? "
                      "Torchhub will now assume that it's a branch. "
                      "You can disambiguate tags and branches by explicitly passing refs/heads/branch_name or "
                      "refs/tags/tag_name as the ref. That might require using skip_validation=True.", stacklevel=4)
        download_url_to_file(_git_archive_link(repo_owner, repo_name, f"refs/heads/{ref}"), cached_file,
                             progress=False)


def _get_cache_or_reload(github: str, force_reload: bool, trust_repo, verbose: bool = True,
                         skip_validation: bool = False) -> str:
    """The folder ``<hub_dir>/<owner>_<name>_<ref>`` holding the repository, downloaded unless already there."""
    hub_dir = get_dir()
    os.makedirs(hub_dir, exist_ok=True)
    repo_owner, repo_name, ref = _parse_repo_info(github)
    normalized_br = ref.replace("/", "_")  # branch names may hold "/", which would read as a path
    owner_name_branch = "_".join([repo_owner, repo_name, normalized_br])
    repo_dir = os.path.join(hub_dir, owner_name_branch)
    _check_repo_is_trusted(repo_owner, repo_name, owner_name_branch, trust_repo=trust_repo)

    if not force_reload and os.path.exists(repo_dir):
        if verbose:
            sys.stderr.write(f"Using cache found in {repo_dir}\n")
        return repo_dir
    if not skip_validation:
        _validate_not_a_forked_repo(repo_owner, repo_name, ref)
    cached_file = os.path.join(hub_dir, normalized_br + ".zip")
    _remove_if_exists(cached_file)
    _download_repo_archive(repo_owner, repo_name, ref, cached_file)
    with zipfile.ZipFile(cached_file) as archive:
        # GitHub names the archive's top folder itself (owner-name-sha): read it from the archive.
        extracted_repo = os.path.join(hub_dir, archive.infolist()[0].filename)
        _remove_if_exists(extracted_repo)
        _safe_extract_zip(archive, hub_dir)
    _remove_if_exists(cached_file)
    _remove_if_exists(repo_dir)
    shutil.move(extracted_repo, repo_dir)
    return repo_dir


# ------------------------------------------------------------------ hubconf.py entry points


@contextlib.contextmanager
def _add_to_sys_path(path: str):
    sys.path.insert(0, path)
    try:
        yield
    finally:
        sys.path.remove(path)


def _import_hubconf(repo_dir: str):
    """The module ``<repo_dir>/hubconf.py``, imported with ``repo_dir`` on ``sys.path`` (for its own imports)."""
    with _add_to_sys_path(repo_dir):
        path = os.path.join(repo_dir, MODULE_HUBCONF)
        if not os.path.isfile(path):
            raise FileNotFoundError(errno.ENOENT, f"No {MODULE_HUBCONF} in {repo_dir}; a hub repository or folder "
                                    f"must hold one", path)
        spec = importlib.util.spec_from_file_location(MODULE_HUBCONF, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


def _load_attr_from_module(module, func_name: str):
    return getattr(module, func_name) if func_name in dir(module) else None


def _check_dependencies(module) -> None:
    dependencies = _load_attr_from_module(module, VAR_DEPENDENCY)
    if dependencies is not None:
        missing_deps = [pkg for pkg in dependencies if importlib.util.find_spec(pkg) is None]
        if missing_deps:
            raise RuntimeError(f"Missing dependencies: {', '.join(missing_deps)}")


def _load_entry_from_hubconf(module, model):
    if not isinstance(model, str):
        raise ValueError("Invalid input: model should be a string of function name")
    _check_dependencies(module)
    func = _load_attr_from_module(module, model)
    if func is None or not callable(func):
        raise RuntimeError(f"Cannot find callable {model} in hubconf")
    return func


def list(github: str, force_reload: bool = False, skip_validation: bool = False, trust_repo="check",
         verbose: bool = True) -> builtins.list[str]:
    """The names of the entry points (public callables) in the ``hubconf.py`` of ``"owner/name[:ref]"``."""
    repo_dir = _get_cache_or_reload(github, force_reload, trust_repo, verbose=verbose,
                                    skip_validation=skip_validation)
    hub_module = _import_hubconf(repo_dir)
    return [name for name in dir(hub_module) if callable(getattr(hub_module, name)) and not name.startswith("_")]


def help(github: str, model: str, force_reload: bool = False, skip_validation: bool = False,
         trust_repo="check") -> str | None:
    """The docstring of the entry point ``model`` in the ``hubconf.py`` of ``"owner/name[:ref]"``."""
    repo_dir = _get_cache_or_reload(github, force_reload, trust_repo, verbose=True, skip_validation=skip_validation)
    return _load_entry_from_hubconf(_import_hubconf(repo_dir), model).__doc__


def load(repo_or_dir: str, model: str, *args, source: str = "github", trust_repo="check", force_reload: bool = False,
         verbose: bool = True, skip_validation: bool = False, **kwargs):
    """Call the entry point ``model`` of a ``hubconf.py`` with ``*args`` and ``**kwargs`` and return its result.

    ``source="github"``: ``repo_or_dir`` is ``"owner/name[:ref]"``, downloaded into the hub cache unless already
    there (``force_reload`` downloads again; ``trust_repo`` and ``skip_validation`` as in torch.hub).
    ``source="local"``: ``repo_or_dir`` is a folder holding ``hubconf.py``.
    """
    source = source.lower()
    if source not in ("github", "local"):
        raise ValueError(f'Unknown source: "{source}". Allowed values: "github" | "local".')
    if source == "github":
        repo_or_dir = _get_cache_or_reload(repo_or_dir, force_reload, trust_repo, verbose=verbose,
                                           skip_validation=skip_validation)
    with _add_to_sys_path(repo_or_dir):  # the entry point may import the repository's modules when called
        entry = _load_entry_from_hubconf(_import_hubconf(repo_or_dir), model)
        return entry(*args, **kwargs)


def __getattr__(name: str):
    """``torch.hub.tqdm``, which programs import their progress bars from; imported on first use (see above)."""
    if name == "tqdm":
        from tqdm import tqdm

        return tqdm
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
