"""Fixtures for the server tests; the helpers themselves are in serverkit.py."""

import sys
from pathlib import Path

import pytest

# The test modules import serverkit by name; with --import-mode=importlib pytest puts no test folder on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import serverkit  # noqa: E402


@pytest.fixture(scope="module")
def standard_repo(tmp_path_factory):
    """A repository with the models most tests use."""
    repo = tmp_path_factory.mktemp("repo")
    serverkit.write_model(repo, "simple", serverkit.simple_model(), "max_batch_size: 8\n")
    serverkit.write_model(repo, "dtypes", serverkit.dtypes_model(), "max_batch_size: 4\n")
    serverkit.write_model(repo, "fixed", serverkit.fixed_model())
    serverkit.write_model(repo, "batched", serverkit.simple_model(),
                          "max_batch_size: 8\ndynamic_batching { max_queue_delay_microseconds: 2000 }\n"
                          "instance_group [{ count: 2 }]\n")
    return repo


@pytest.fixture(scope="module")
def server(standard_repo):
    with serverkit.running_server(standard_repo, model_control_mode="explicit", load_models=["*"]) as running:
        yield running


@pytest.fixture
def client(server):
    with serverkit.client(server) as c:
        yield c
