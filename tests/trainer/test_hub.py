"""trainer.hub against torch.hub: cache folders, hubconf entry points, trust rules, downloads (file:// URLs and a
GitHub stand-in served on 127.0.0.1; never the network)."""

import hashlib
import http.server
import io
import json
import os
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.hub

import trainer
import trainer.hub
from tests.trainer.test_ops_parity import assert_raises_like_torch

HUBCONF = '''\
dependencies = ["json", "numpy"]

from hub_test_helpers import double


def echo(*args, **kwargs):
    """Return the arguments it was called with."""
    return args, kwargs


def doubled(x):
    """Twice x, computed by a module of the repository."""
    return double(x)


def linear(in_features, out_features):
    """A trainer.nn.Linear layer."""
    import trainer

    return trainer.nn.Linear(in_features, out_features)


def _private_helper():
    return None


not_callable = 3
'''
HELPERS = "def double(x):\n    return 2 * x\n"


def _write_repo(folder: Path, hubconf: str = HUBCONF) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hubconf.py").write_text(hubconf)
    (folder / "hub_test_helpers.py").write_text(HELPERS)
    return folder


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Both hubs use tmp_path/hub; the environment and sys.modules are restored afterwards."""
    for name in ("TORCH_HOME", "XDG_CACHE_HOME", "TORCH_HUB", "TORCH_MODEL_ZOO", "GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(trainer.hub, "_hub_dir", str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    yield
    sys.modules.pop("hub_test_helpers", None)


# ------------------------------------------------------------------ cache folder


@pytest.mark.parametrize("env, expected", [
    ({}, "~/.cache/torch/hub"),
    ({"TORCH_HOME": "/opt/th"}, "/opt/th/hub"),
    ({"TORCH_HOME": "~/th"}, "~/th/hub"),
    ({"XDG_CACHE_HOME": "/var/xdg"}, "/var/xdg/torch/hub"),
    ({"XDG_CACHE_HOME": "~/xdg"}, "~/xdg/torch/hub"),
    ({"TORCH_HOME": "/opt/th", "XDG_CACHE_HOME": "/var/xdg"}, "/opt/th/hub"),
], ids=lambda value: "+".join(value) or "none" if isinstance(value, dict) else None)
def test_get_dir_follows_torch_env_rules(env, expected, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(trainer.hub, "_hub_dir", None)
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    assert trainer.hub.get_dir() == torch.hub.get_dir() == os.path.expanduser(expected)


@pytest.mark.parametrize("folder", ["~/my_hub", "/srv/hub", Path("/srv/path_hub")], ids=str)
def test_set_dir_expands_user_and_wins_over_env(folder, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TORCH_HOME", "/opt/th")
    trainer.hub.set_dir(folder)
    torch.hub.set_dir(folder)
    assert trainer.hub.get_dir() == torch.hub.get_dir() == os.path.expanduser(folder)


def test_deprecated_env_vars_warn_like_torch(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HUB", "/old")
    with pytest.warns(UserWarning, match="TORCH_HUB is deprecated, please use env TORCH_HOME instead"):
        trainer.hub.get_dir()
    monkeypatch.delenv("TORCH_HUB")
    monkeypatch.setenv("TORCH_MODEL_ZOO", "/old")
    source = tmp_path / "w.safetensors"
    trainer.save({"w": trainer.ones(2)}, source)
    with pytest.warns(UserWarning, match="TORCH_MODEL_ZOO is deprecated, please use env TORCH_HOME instead"):
        trainer.hub.load_state_dict_from_url(source.as_uri(), progress=False)


# ------------------------------------------------------------------ local hubconf


def test_load_local_calls_the_entry_point_like_torch(tmp_path):
    repo = str(_write_repo(tmp_path / "repo"))
    ours = trainer.hub.load(repo, "echo", 1, "two", source="local", scale=3)
    theirs = torch.hub.load(repo, "echo", 1, "two", source="local", scale=3)
    assert ours == theirs == ((1, "two"), {"scale": 3})
    # The entry point can use the repository's own modules; sys.path is restored afterwards.
    assert trainer.hub.load(repo, "doubled", 21, source="LOCAL") == torch.hub.load(repo, "doubled", 21,
                                                                                 source="local") == 42
    assert repo not in sys.path
    layer = trainer.hub.load(repo, "linear", 3, out_features=5, source="local")
    assert isinstance(layer, trainer.nn.Linear) and tuple(layer.weight.shape) == (5, 3)


def test_unknown_source_raises_like_torch(tmp_path):
    repo = str(_write_repo(tmp_path / "repo"))
    assert_raises_like_torch(lambda lib: lib.hub.load(repo, "echo", source="gitlab"), ValueError,
                             'Unknown source: "gitlab". Allowed values: "github" | "local".')


def test_missing_dependencies_raise_like_torch(tmp_path):
    hubconf = HUBCONF.replace('["json", "numpy"]', '["json", "no_such_package_a", "no_such_package_b"]')
    repo = str(_write_repo(tmp_path / "repo", hubconf))
    assert_raises_like_torch(lambda lib: lib.hub.load(repo, "echo", source="local"), RuntimeError,
                             "^Missing dependencies: no_such_package_a, no_such_package_b$")


@pytest.mark.parametrize("model, error, message", [
    ("not_callable", RuntimeError, "^Cannot find callable not_callable in hubconf$"),
    ("absent", RuntimeError, "^Cannot find callable absent in hubconf$"),
    (print, ValueError, "^Invalid input: model should be a string of function name$"),
])
def test_bad_entry_points_raise_like_torch(model, error, message, tmp_path):
    repo = str(_write_repo(tmp_path / "repo"))
    assert_raises_like_torch(lambda lib: lib.hub.load(repo, model, source="local"), error, message)


def test_folder_without_hubconf_raises_like_torch(tmp_path):
    (tmp_path / "empty").mkdir()
    assert_raises_like_torch(lambda lib: lib.hub.load(str(tmp_path / "empty"), "echo", source="local"),
                             FileNotFoundError, "hubconf.py")


# ------------------------------------------------------------------ GitHub repositories already in the cache


def test_list_and_help_on_a_cached_repo_match_torch(tmp_path, capsys):
    _write_repo(tmp_path / "hub" / "alice_tools_main")  # downloaded before: trusted without asking
    ours = trainer.hub.list("alice/tools:main")
    assert "Using cache found in" in capsys.readouterr().err
    assert ours == torch.hub.list("alice/tools:main") == ["double", "doubled", "echo", "linear"]
    capsys.readouterr()
    assert trainer.hub.list("alice/tools:main", verbose=False) == ours
    assert capsys.readouterr().err == ""
    assert trainer.hub.help("alice/tools:main", "doubled") == torch.hub.help("alice/tools:main", "doubled")
    assert trainer.hub.help("alice/tools:main", "echo") == "Return the arguments it was called with."
    assert trainer.hub.load("alice/tools:main", "doubled", 4) == torch.hub.load("alice/tools:main", "doubled", 4) == 8


def test_branch_names_with_slashes_map_to_one_folder(tmp_path):
    _write_repo(tmp_path / "hub" / "alice_tools_release_v2")
    assert trainer.hub.load("alice/tools:release/v2", "doubled", 1) == torch.hub.load("alice/tools:release/v2",
                                                                                      "doubled", 1)


@pytest.mark.parametrize("github", ["alice", "alice/tools/extra", "alice/tools:main:x"])
def test_malformed_repo_names_raise_value_error(github):
    assert_raises_like_torch(lambda lib: lib.hub._parse_repo_info(github), ValueError, "repo_owner/repo_name")


# ------------------------------------------------------------------ trust prompt


def _trust_outcome(lib, hub_dir: Path, owner: str, trust_repo, answer: str | None, monkeypatch, capsys,
                   trusted_list: str = ""):
    """What lib's trust check does in a fresh hub folder: (outcome, prompted, printed, trusted_list afterwards)."""
    hub_dir.mkdir(parents=True)
    (hub_dir / "trusted_list").write_text(trusted_list)
    prompts = []

    def fake_input(prompt):
        prompts.append(prompt)
        return answer

    monkeypatch.setattr("builtins.input", fake_input)
    monkeypatch.setattr(lib.hub, "_hub_dir", str(hub_dir))
    try:
        lib.hub._check_repo_is_trusted(owner, "tools", f"{owner}_tools_main", trust_repo=trust_repo)
        outcome = "trusted"
    except Exception as exc:  # noqa: BLE001 - torch raises a bare Exception for "no"
        outcome = f"{type(exc).__name__}: {exc}"
    return outcome, prompts, capsys.readouterr().out, (hub_dir / "trusted_list").read_text()


@pytest.mark.parametrize("owner, trust_repo, answer, trusted_list", [
    ("alice", True, None, ""),
    ("alice", None, None, ""),
    ("alice", "check", "y", ""),
    ("alice", "check", "YES", ""),
    ("alice", "check", "n", ""),
    ("alice", "check", "", ""),
    ("alice", "check", "maybe", ""),
    ("alice", "check", None, "alice_tools\n"),
    ("alice", False, "y", "alice_tools\n"),
    ("pytorch", "check", None, ""),
    ("pytorch", False, "yes", ""),
    ("pytorch", False, "no", ""),
])
def test_trust_rules_match_torch(owner, trust_repo, answer, trusted_list, tmp_path, monkeypatch, capsys):
    ours = _trust_outcome(trainer, tmp_path / "ours", owner, trust_repo, answer, monkeypatch, capsys, trusted_list)
    theirs = _trust_outcome(torch, tmp_path / "theirs", owner, trust_repo, answer, monkeypatch, capsys, trusted_list)
    assert ours == theirs


def test_untrusted_repo_is_not_loaded(tmp_path, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    with pytest.raises(Exception, match="^Untrusted repository.$"):
        trainer.hub.load("alice/tools:main", "echo")


# ------------------------------------------------------------------ GitHub downloads, from a local stand-in


def _archive(top: str, files: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(top + "/", "")
        for name, text in files.items():
            archive.writestr(f"{top}/{name}", text)
    return buffer.getvalue()


class FakeGitHub(http.server.BaseHTTPRequestHandler):
    """GitHub's archive, tree and branch/tag endpoints for repositories alice/tools (default branch main, a tag
    v1.0, a ref "amb" that is both) and bob/old (default branch master)."""

    requests: list = []
    reject_tokens = False
    zipball = _archive("alice-tools-abc1234", {"hubconf.py": HUBCONF, "hub_test_helpers.py": HELPERS})

    def do_GET(self):  # noqa: N802 - http.server's name
        FakeGitHub.requests.append((self.path, self.headers.get("Authorization")))
        path, _, query = self.path.partition("?")
        if self.reject_tokens and self.headers.get("Authorization"):
            return self._send(403, b"bad token")
        if path in ("/alice/tools/tree/main/", "/bob/old/tree/master/"):
            return self._send(200, b"<html></html>")
        if path in ("/alice/tools/zipball/main", "/alice/tools/zipball/v1.0", "/alice/tools/zipball/abc12",
                    "/alice/tools/zipball/refs/heads/amb", "/bob/old/zipball/master"):
            return self._send(200, self.zipball, "application/zip")
        if path == "/alice/tools/zipball/amb":
            return self._send(300, b"multiple choices")
        first_page = query.endswith("page=1")
        listings = {"/repos/alice/tools/branches": [{"name": "main", "commit": {"sha": "abc1234ffff"}},
                                                    {"name": "amb", "commit": {"sha": "9999"}}],
                    "/repos/alice/tools/tags": [{"name": "v1.0", "commit": {"sha": "def5678"}}],
                    "/repos/bob/old/branches": [{"name": "master", "commit": {"sha": "0123"}}],
                    "/repos/bob/old/tags": []}
        if path in listings:
            return self._send(200, json.dumps(listings[path] if first_page else []).encode(), "application/json")
        return self._send(404, b"not found")

    def _send(self, code, body, content_type="text/html"):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def github(monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeGitHub)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setattr(trainer.hub, "_GITHUB_URL", base)
    monkeypatch.setattr(trainer.hub, "_GITHUB_API_URL", base)
    monkeypatch.setattr(FakeGitHub, "requests", [])
    yield base
    server.shutdown()
    server.server_close()
    thread.join()


def _zipball_requests():
    return [path for path, _ in FakeGitHub.requests if "/zipball/" in path]


def test_github_repo_is_downloaded_once_and_then_cached(github, tmp_path, capsys):
    hub_dir = tmp_path / "hub"
    assert trainer.hub.load("alice/tools", "doubled", 5, trust_repo=True) == 10
    assert f'Downloading: "{github}/alice/tools/zipball/main"' in capsys.readouterr().out
    assert (hub_dir / "alice_tools_main" / "hubconf.py").is_file()
    assert sorted(os.listdir(hub_dir)) == ["alice_tools_main", "trusted_list"]  # archive and its folder gone
    assert (hub_dir / "trusted_list").read_text() == "alice_tools\n"
    assert trainer.hub.list("alice/tools") == ["double", "doubled", "echo", "linear"]
    assert "Using cache found in" in capsys.readouterr().err
    assert _zipball_requests() == ["/alice/tools/zipball/main"]
    trainer.hub.load("alice/tools", "echo", force_reload=True, skip_validation=True)
    assert _zipball_requests() == ["/alice/tools/zipball/main"] * 2
    branch_checks = [path for path, _ in FakeGitHub.requests if path.startswith("/repos/")]
    assert branch_checks == ["/repos/alice/tools/branches?per_page=100&page=1"]  # found on the first page


def test_github_tags_commits_and_master_default(github, tmp_path):
    assert trainer.hub.help("alice/tools:v1.0", "echo", trust_repo=True) == "Return the arguments it was called with."
    assert trainer.hub.load("alice/tools:abc12", "echo", 1, trust_repo=True) == ((1,), {})
    assert trainer.hub.load("bob/old", "doubled", 1, trust_repo=True) == 2
    assert {"alice_tools_v1.0", "alice_tools_abc12", "bob_old_master"} <= set(os.listdir(tmp_path / "hub"))


def test_github_ref_of_a_fork_is_refused(github):
    with pytest.raises(ValueError, match=f"^Cannot find nope in {github}/alice/tools. If it's a commit from a forked"):
        trainer.hub.load("alice/tools:nope", "echo", trust_repo=True)
    assert _zipball_requests() == []


def test_github_ambiguous_ref_takes_the_branch(github, tmp_path):
    with pytest.warns(UserWarning, match="The ref amb is ambiguous"):
        trainer.hub.load("alice/tools:amb", "echo", trust_repo=True)
    assert _zipball_requests() == ["/alice/tools/zipball/amb", "/alice/tools/zipball/refs/heads/amb"]
    assert (tmp_path / "hub" / "alice_tools_amb" / "hubconf.py").is_file()


def test_github_token_is_sent_and_dropped_when_refused(github, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "secret")
    monkeypatch.setattr(FakeGitHub, "reject_tokens", True)
    assert trainer.hub.load("alice/tools:main", "doubled", 2, trust_repo=True) == 4
    api = [auth for path, auth in FakeGitHub.requests if path.startswith("/repos/")]
    assert api == ["token secret", None]


def test_offline_default_branch_comes_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(trainer.hub, "_GITHUB_URL", "http://127.0.0.1:9")  # the discard port: connection refused
    with pytest.raises(RuntimeError, match="no internet connection and the repo could not be found in the cache"):
        trainer.hub.load("alice/tools", "echo", trust_repo=True)
    _write_repo(tmp_path / "hub" / "alice_tools_master")
    assert trainer.hub.load("alice/tools", "doubled", 3) == 6


def test_archive_entries_outside_the_target_are_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("repo/../../evil.py", "print('escaped')")
    with zipfile.ZipFile(buffer) as archive, pytest.raises(ValueError, match="directory traversal: repo/../../evil"):
        trainer.hub._safe_extract_zip(archive, str(tmp_path / "out"))
    assert not (tmp_path / "evil.py").exists()


# ------------------------------------------------------------------ downloads and checkpoints from URLs


def test_download_url_to_file_from_a_file_url(tmp_path, capsys):
    source = tmp_path / "blob.bin"
    source.write_bytes(os.urandom(300_000))
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    trainer.hub.download_url_to_file(source.as_uri(), str(tmp_path / "copy.bin"), hash_prefix=digest[:10])
    assert (tmp_path / "copy.bin").read_bytes() == source.read_bytes()
    assert "100%" in capsys.readouterr().err  # tqdm's bar
    trainer.hub.download_url_to_file(source.as_uri(), str(tmp_path / "quiet.bin"), progress=False)
    assert capsys.readouterr().err == ""


def test_download_hash_mismatch_raises_like_torch_and_leaves_nothing(tmp_path):
    source = tmp_path / "blob.bin"
    source.write_bytes(b"sardonyx")
    digest = hashlib.sha256(b"sardonyx").hexdigest()
    messages = []
    for lib in (torch, trainer):
        with pytest.raises(RuntimeError) as info:
            lib.hub.download_url_to_file(source.as_uri(), str(tmp_path / "copy.bin"), "0000", progress=False)
        messages.append(str(info.value))
    assert messages[0] == messages[1] == f'invalid hash value (expected "0000", got "{digest}")'
    assert [path.name for path in tmp_path.glob("copy.bin*")] == []  # neither the target nor a partial file


def _published_checkpoint(folder: Path, stem: str = "weights"):
    """A state dict saved by trainer.save under a torch.hub-style name ``<stem>-<sha256 prefix>.safetensors``."""
    np.random.seed(0)
    state = {"weight": trainer.tensor(np.random.randn(3, 2)), "bias": trainer.tensor(np.random.randn(3))}
    folder.mkdir(parents=True, exist_ok=True)
    draft = folder / "draft.safetensors"
    trainer.save(state, draft)
    name = f"{stem}-{hashlib.sha256(draft.read_bytes()).hexdigest()[:8]}.safetensors"
    draft.rename(folder / name)
    return state, folder / name


def _assert_state_equal(loaded, state):
    assert list(loaded) == list(state)
    for key, value in state.items():
        np.testing.assert_array_equal(loaded[key].numpy(), value.numpy())


def test_state_dict_from_file_url_is_cached_and_reused(tmp_path, capsys):
    state, source = _published_checkpoint(tmp_path / "published")
    loaded = trainer.hub.load_state_dict_from_url(source.as_uri(), check_hash=True, progress=False)
    _assert_state_equal(loaded, state)
    cached = tmp_path / "hub" / "checkpoints" / source.name
    assert f'Downloading: "{source.as_uri()}" to {cached}' in capsys.readouterr().out
    assert cached.read_bytes() == source.read_bytes()
    source.unlink()  # the second call must not download
    _assert_state_equal(trainer.hub.load_state_dict_from_url(source.as_uri(), map_location="cpu"), state)
    assert capsys.readouterr().out == ""


def test_state_dict_model_dir_and_file_name(tmp_path):
    state, source = _published_checkpoint(tmp_path / "published")
    loaded = trainer.hub.load_state_dict_from_url(source.as_uri(), model_dir=str(tmp_path / "models"),
                                                  file_name="mine.safetensors", progress=False, weights_only=True)
    _assert_state_equal(loaded, state)
    assert os.listdir(tmp_path / "models") == ["mine.safetensors"]


def test_state_dict_hash_from_file_name_is_checked(tmp_path):
    _, source = _published_checkpoint(tmp_path / "published")
    wrong = source.with_name("weights-00000000.safetensors")
    source.rename(wrong)
    with pytest.raises(RuntimeError, match='^invalid hash value \\(expected "00000000", got "'):
        trainer.hub.load_state_dict_from_url(wrong.as_uri(), check_hash=True, progress=False)
    assert os.listdir(tmp_path / "hub" / "checkpoints") == []
    # Without check_hash the name is not checked, as in torch.
    trainer.hub.load_state_dict_from_url(wrong.as_uri(), progress=False)


def test_state_dict_in_a_single_file_zip_is_extracted(tmp_path):
    state, source = _published_checkpoint(tmp_path / "published")
    archive_path = tmp_path / "published" / "weights.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.write(source, "inner.safetensors")
    with pytest.warns(FutureWarning, match="zip archive holding one checkpoint file"):
        loaded = trainer.hub.load_state_dict_from_url(archive_path.as_uri(), progress=False)
    _assert_state_equal(loaded, state)
    assert sorted(os.listdir(tmp_path / "hub" / "checkpoints")) == ["inner.safetensors", "weights.zip"]


def test_torch_pickle_checkpoint_is_loaded(tmp_path):
    torch.save({"w": torch.arange(3.0)}, tmp_path / "model.pth")
    loaded = trainer.hub.load_state_dict_from_url((tmp_path / "model.pth").as_uri(), progress=False)
    np.testing.assert_array_equal(loaded["w"].numpy(), np.arange(3.0, dtype=np.float32))
