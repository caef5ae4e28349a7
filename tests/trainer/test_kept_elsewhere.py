"""``torch.onnx`` is not part of trainer: reaching for it says where Sardonyx keeps that job."""

import pytest

import trainer


def test_torch_onnx_names_the_exporter():
    with pytest.raises(AttributeError, match=r"has no attribute 'onnx': .*from exporter import export"):
        trainer.onnx  # noqa: B018 - the attribute access is what is tested
    assert not hasattr(trainer, "onnx")


def test_other_missing_names_raise_the_plain_attribute_error():
    with pytest.raises(AttributeError, match=r"^module 'trainer' has no attribute 'no_such_thing'$"):
        trainer.no_such_thing  # noqa: B018 - the attribute access is what is tested
