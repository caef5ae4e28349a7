"""``torch.onnx`` and ``torch.jit`` are not part of trainer: reaching for them says where Sardonyx keeps that job."""

import pytest

import trainer


@pytest.mark.parametrize(("name", "pointer"), [("onnx", "exporter"), ("jit", "exporter.export")])
def test_torch_modules_kept_elsewhere_name_their_replacement(name, pointer):
    with pytest.raises(AttributeError, match=rf"has no attribute '{name}': .*{pointer}"):
        getattr(trainer, name)
    assert not hasattr(trainer, name)


def test_other_missing_names_raise_the_plain_attribute_error():
    with pytest.raises(AttributeError, match=r"^module 'trainer' has no attribute 'no_such_thing'$"):
        trainer.no_such_thing  # noqa: B018 - the attribute access is what is tested
