"""``trainer.default_generator`` is the CPU stream's ``Generator`` object, as ``torch.default_generator``: the one
``manual_seed`` returns and seeds, and the one draws use when given no generator."""

import trainer


def test_default_generator_is_the_generator_behind_the_default_stream():
    assert isinstance(trainer.default_generator, trainer.Generator)
    assert trainer.manual_seed(7) is trainer.default_generator
    assert trainer.default_generator.initial_seed() == 7
    explicit = trainer.rand(4, generator=trainer.default_generator)
    trainer.manual_seed(7)
    assert trainer.rand(4).tolist() == explicit.tolist()
    state = trainer.default_generator.get_state()
    assert trainer.get_rng_state().tolist() == state.tolist()
