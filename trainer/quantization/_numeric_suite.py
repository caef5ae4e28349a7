"""``trainer.quantization._numeric_suite``: the older name PyTorch keeps for ``torch.ao.ns._numeric_suite``."""

from trainer.ao.ns._numeric_suite import (  # noqa: F401 - the alias re-exports PyTorch's names, private ones too
    NON_LEAF_MODULE_TO_ADD_OBSERVER_ALLOW_LIST,
    Logger,
    OutputLogger,
    Shadow,
    ShadowLogger,
    _convert_tuple_to_list,
    _dequantize_tensor_list,
    _find_match,
    _get_logger_dict_helper,
    _is_identical_module_type,
    compare_model_outputs,
    compare_model_stub,
    compare_weights,
    get_logger_dict,
    get_matching_activations,
    prepare_model_outputs,
    prepare_model_with_stubs,
)
