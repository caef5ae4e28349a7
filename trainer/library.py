"""``torch.library``: user-defined operators, reached as ``trainer.ops.<namespace>.<name>``.

Trainer has no C++ dispatcher; this module keeps its own small one. Each operator overload has a schema (see
``trainer.operator_schema``) and kernels under the dispatch keys that mean something here: a device kernel
(``"CPU"``, ``"CUDA"``), a fake one for ``meta`` tensors (``"Meta"`` or ``register_fake``), a device-independent
one (``"CompositeExplicitAutograd"``, the ``"default"`` device type), one that autograd differentiates through
(``"CompositeImplicitAutograd"``, ``Library.impl``'s default) and one that handles autograd itself
(``"Autograd"``). A call binds its arguments against the schema, picks the kernel as PyTorch's dispatcher
would, and, where an autograd formula is registered, runs it as a ``trainer.autograd.Function``.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import weakref
from collections.abc import Callable, Iterable, Sequence

from trainer import dtypes
from trainer.autograd import grad_mode
from trainer.autograd.function import Function
from trainer.autograd.graph import increment_version
from trainer.backend import device as Device  # noqa: N812 - the class, named as the schema type it checks
from trainer.func.pytree import tree_flatten
from trainer.operator_schema import FunctionSchema, infer_schema, parse_schema
from trainer.tensor import Tensor

__all__ = ["CustomOpDef", "Library", "custom_op", "define", "impl", "infer_schema", "register_autograd",
           "register_fake", "register_kernel"]

_KINDS = ("IMPL", "DEF", "FRAGMENT")
_RESERVED_NAMESPACES = ("prim",)
_DEVICE_KEYS = {"cpu": "CPU", "cuda": "CUDA", "meta": "Meta"}
_DISPATCH_KEYS = ("CPU", "CUDA", "Meta", "CompositeExplicitAutograd", "CompositeImplicitAutograd", "Autograd",
                  "AutogradCPU", "AutogradCUDA")
_NAMELESS_SCHEMA = re.compile(r"\(.*\) -> .*", re.DOTALL)


@dataclasses.dataclass
class _Overload:
    """One operator overload: its schema and what has been registered for it, newest last, each entry tagged
    with the ``Library`` that registered it so that destroying the library removes it again."""

    schema: FunctionSchema | None = None
    kernels: dict = dataclasses.field(default_factory=dict)  # dispatch key -> [(owner, fn)]
    fakes: list = dataclasses.field(default_factory=list)  # [(owner, fn)]
    autograd: list = dataclasses.field(default_factory=list)  # [(owner, _AutogradInfo)]
    opdef: CustomOpDef | None = None

    def kernel(self, key: str):
        entries = self.kernels.get(key)
        return entries[-1][1] if entries else None

    def forget(self, owner) -> None:
        for key in list(self.kernels):
            self.kernels[key] = [e for e in self.kernels[key] if e[0] is not owner]
        self.fakes[:] = [e for e in self.fakes if e[0] is not owner]
        self.autograd[:] = [e for e in self.autograd if e[0] is not owner]


@dataclasses.dataclass
class _AutogradInfo:
    backward: Callable | None
    setup_context: Callable | None
    function: type | None = None  # the generated trainer.autograd.Function, made on first use


_OPERATORS: dict[str, _Overload] = {}  # "ns::name" or "ns::name.overload" -> its registrations
_DEFINED_BY: dict[str, object] = {}  # operator key -> the owner token of the library that defined it
_DEF_NAMESPACES: dict[str, object] = {}  # namespace -> owner token of its one "DEF" library
_KEEP_ALIVE: list = []  # libraries made by the module-level functions live as long as the program


def _operator(key: str) -> _Overload:
    return _OPERATORS.setdefault(key, _Overload())


def _forget(owner, keys: set, namespace: str) -> None:
    """A library is destroyed: its definitions and registrations go."""
    for key in keys:
        if _DEFINED_BY.get(key) is owner:
            del _DEFINED_BY[key]
            _OPERATORS[key].schema = None
            _OPERATORS[key].opdef = None
    for op in _OPERATORS.values():
        op.forget(owner)
    if _DEF_NAMESPACES.get(namespace) is owner:
        del _DEF_NAMESPACES[namespace]


def parse_namespace(qualname: str) -> tuple[str, str]:
    splits = qualname.split("::")
    if len(splits) != 2:
        raise ValueError(f'Expected `qualname` to be of the form "namespace::name", but got {qualname}. The qualname '
                         "passed to the trainer.library APIs must consist of a namespace and a name, e.g. mylib::sin")
    return splits[0], splits[1]


def _op_key(namespace: str, name: str) -> str:
    """``"ns::name"`` for the default overload, ``"ns::name.overload"`` otherwise."""
    return f"{namespace}::{name.removesuffix('.default')}"


def _dispatch_key(name: str) -> str:
    if name not in _DISPATCH_KEYS:
        raise RuntimeError(f"could not parse dispatch key: {name} (trainer runs kernels registered for "
                           f"{', '.join(_DISPATCH_KEYS)})")
    return name


def _device_type_key(device_type: str) -> str:
    if device_type == "default":
        return "CompositeExplicitAutograd"
    if device_type in _DISPATCH_KEYS:
        return device_type
    key = _DEVICE_KEYS.get(device_type)
    if key is None:
        raise RuntimeError(f"Expected one of {', '.join(_DEVICE_KEYS)} device type, or 'default', or a dispatch key "
                           f"({', '.join(_DISPATCH_KEYS)}), but got: {device_type}")
    return key


class Library:
    """``torch.library.Library(ns, kind)``: defines (``"DEF"``, ``"FRAGMENT"``) or implements (``"IMPL"``)
    operators of namespace ``ns``. What it registers lasts as long as the object does."""

    def __init__(self, ns: str, kind: str, dispatch_key: str = ""):
        if kind not in _KINDS:
            raise ValueError(f"Unsupported kind: {kind}")
        if ns in _RESERVED_NAMESPACES and kind in ("DEF", "FRAGMENT"):
            raise ValueError(f"{ns} is a reserved namespace. Please try creating a library with another name.")
        if dispatch_key:
            _dispatch_key(dispatch_key)
        self._owner = object()  # what its registrations are tagged with; the finalizer must not hold self
        if kind == "DEF":
            if ns in _DEF_NAMESPACES:
                raise RuntimeError(
                    f"Only a single TORCH_LIBRARY can be used to register the namespace {ns}; please put all of your "
                    "definitions in a single TORCH_LIBRARY block. To add definitions elsewhere, use "
                    f'Library("{ns}", "FRAGMENT").')
            _DEF_NAMESPACES[ns] = self._owner
        self.ns, self.kind, self.dispatch_key = ns, kind, dispatch_key
        self._op_defs: set[str] = set()
        self._finalizer = weakref.finalize(self, _forget, self._owner, self._op_defs, ns)

    def __repr__(self) -> str:
        return f"Library(kind={self.kind}, ns={self.ns}, dispatch_key={self.dispatch_key})>"

    def define(self, schema: str, alias_analysis: str = "", *, tags=()) -> str:
        """Define the operator ``schema`` (``"name.overload(args) -> returns"``) in this namespace; returns its
        name."""
        if alias_analysis not in ("", "FROM_SCHEMA", "CONSERVATIVE"):
            raise RuntimeError(f"Invalid alias_analysis type {alias_analysis}")
        self._check_alive()
        if self.kind == "IMPL":
            raise RuntimeError(f"Cannot define an operator inside of a TORCH_LIBRARY_IMPL block (Library("
                               f"{self.ns!r}, 'IMPL')). Use a 'DEF' or 'FRAGMENT' library to define operators.")
        parsed = parse_schema(schema)
        name = parsed.name + (f".{parsed.overload_name}" if parsed.overload_name else "")
        key = _op_key(self.ns, name)
        op = _operator(key)
        if op.schema is not None:
            raise RuntimeError(f"Tried to register an operator ({self.ns}::{schema.strip()}) with the same name and "
                               "overload name multiple times. Each overload's schema should only be registered with "
                               "a single call to def().")
        op.schema = dataclasses.replace(parsed, name=f"{self.ns}::{parsed.name}")
        _DEFINED_BY[key] = self._owner
        self._op_defs.add(key)
        return parsed.name

    def impl(self, op_name, fn, dispatch_key: str = "", *, allow_override: bool = True) -> None:
        """Register ``fn`` as the kernel of ``op_name`` (``"name"`` or ``"name.overload"`` in this namespace, or
        an ``OpOverload``) for ``dispatch_key``; ``""`` means the library's key, else
        ``"CompositeImplicitAutograd"``."""
        if not callable(fn):
            raise TypeError(f"Input function is required to be a callable but found type {type(fn)}")
        self._check_alive()
        key = _dispatch_key(dispatch_key or self.dispatch_key or "CompositeImplicitAutograd")
        op = _operator(_op_key(self.ns, _resolve_name(op_name, "impl").split("::")[-1]))
        if not allow_override and op.kernel(key) is not None:
            raise RuntimeError(f"This is not allowed since there's already a kernel registered from python overriding "
                               f"{op_name}'s behavior for {key} dispatch key and {self.ns} namespace.")
        op.kernels.setdefault(key, []).append((self._owner, fn))

    def _register_fake(self, op_name: str, fn, *, allow_override: bool = True) -> None:
        self._check_alive()
        op = _operator(_op_key(self.ns, op_name))
        if not allow_override and op.fakes:
            raise RuntimeError(f"register_fake(...): the operator {self.ns}::{op_name} already has a fake impl "
                               "registered; pass allow_override=True to replace it.")
        op.fakes.append((self._owner, fn))

    def _register_autograd(self, op_name: str, info: _AutogradInfo) -> None:
        self._check_alive()
        _operator(_op_key(self.ns, op_name)).autograd.append((self._owner, info))

    def _check_alive(self) -> None:
        if not self._finalizer.alive:
            raise AssertionError("Library object has been destroyed")

    def _destroy(self) -> None:
        self._finalizer()


def _resolve_name(op, api_name: str) -> str:
    if isinstance(op, str):
        return op
    if isinstance(op, OpOverload):
        return op._name
    raise RuntimeError(f"{api_name} should be passed either a name or an OpOverload object as the first argument, "
                       f"got {type(op)}")


# ---------------------------------------------------------------------------------------------- calling an operator
def _default_value(text: str):
    """A default as written in a schema (``1.0``, ``True``, ``None``, ``"cpu"``, ``[1, 2]``, ``float32``)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return getattr(dtypes, text)


_PYTHON_TYPES = {"Tensor": Tensor, "SymInt": int, "int": int, "float": (int, float), "SymFloat": (int, float),
                 "bool": bool, "SymBool": bool, "str": str, "Scalar": (int, float, bool, complex),
                 "ScalarType": dtypes.dtype, "Device": (Device, str, int), "Layout": object, "MemoryFormat": object,
                 "Generator": object, "Any": object}


def _fits(schema_type: str, value) -> bool:
    if schema_type.endswith("?"):
        return value is None or _fits(schema_type[:-1], value)
    if schema_type.endswith("]"):
        item_type = schema_type[:schema_type.rindex("[")]
        return isinstance(value, (list, tuple)) and all(_fits(item_type, v) for v in value)
    if isinstance(value, Tensor):
        return schema_type in ("Tensor", "Any")
    return isinstance(value, _PYTHON_TYPES[schema_type])


def _bind(schema: FunctionSchema, args: tuple, kwargs: dict) -> tuple[list, dict]:
    """The positional and keyword-only arguments of a call, defaults filled in, checked as PyTorch checks them."""
    name = schema.name
    positional = [a for a in schema.arguments if not a.kwarg_only]
    if len(args) > len(positional):
        if len(args) > len(schema.arguments):
            raise RuntimeError(f"{name}() expected at most {len(schema.arguments)} argument(s) but received "
                               f"{len(args)} argument(s). Declaration: {schema}")
        raise RuntimeError(f"{name}() takes {len(positional)} positional argument(s) but {len(args)} was/were given. "
                           f" Declaration: {schema}")
    known = {a.name for a in schema.arguments}
    for keyword in kwargs:
        if keyword not in known:
            raise RuntimeError(f"Unknown keyword argument '{keyword}' for operator '{name}'. Schema: {schema}")
    values = {}
    for i, arg in enumerate(schema.arguments):
        if i < len(args) and not arg.kwarg_only:
            if arg.name in kwargs:
                raise RuntimeError(f"{name}() got multiple values for argument '{arg.name}'. Declaration: {schema}")
            value = args[i]
        elif arg.name in kwargs:
            value = kwargs[arg.name]
        elif arg.default is not None:
            value = _default_value(arg.default)
        else:
            raise RuntimeError(f"{name}() is missing value for argument '{arg.name}'. Declaration: {schema}")
        if not _fits(arg.type, value):
            shown = arg.type.replace("SymInt", "int")
            raise RuntimeError(f"{name}() Expected a value of type '{shown}' for argument '{arg.name}' but instead "
                               f"found type '{type(value).__name__}'.\nPosition: {i}\nValue: {value}\n"
                               f"Declaration: {schema}")
        values[arg.name] = value
    return ([values[a.name] for a in positional],
            {a.name: values[a.name] for a in schema.arguments if a.kwarg_only})


def _tensors_in(values: Iterable) -> list[Tensor]:
    found = []
    for v in values:
        if isinstance(v, Tensor):
            found.append(v)
        elif isinstance(v, (list, tuple)):
            found.extend(t for t in v if isinstance(t, Tensor))
    return found


def _device_type(schema: FunctionSchema, args: list, kwargs: dict) -> str:
    tensors = _tensors_in([*args, *kwargs.values()])
    if tensors:
        return tensors[0].device.type
    values = dict(zip([a.name for a in schema.arguments if not a.kwarg_only], args)) | kwargs
    for arg in schema.arguments:
        if arg.type.rstrip("?") == "Device" and values[arg.name] is not None:
            return Device(values[arg.name]).type
    return "cpu"


def _unavailable(op: _Overload, key: str) -> NotImplementedError:
    available = sorted(k for k, entries in op.kernels.items() if entries) + (["Meta"] if op.fakes else [])
    return NotImplementedError(f"Could not run '{op.schema.name}' with arguments from the '{key}' backend. This could "
                               f"be because the operator doesn't exist for this backend. '{op.schema.name}' is only "
                               f"available for these backends: [{', '.join(available)}].")


def _meta_kernel(op: _Overload):
    kernel = op.kernel("Meta")
    if kernel is not None:
        return kernel
    fake = op.opdef._abstract_fn if op.opdef is not None else (op.fakes[-1][1] if op.fakes else None)
    if fake is not None:
        return fake
    if not op.schema.returns or op.schema.returns == ("()",):
        return lambda *args, **kwargs: None  # an op that only mutates has a trivial fake: it returns nothing
    if op.opdef is not None:
        raise RuntimeError(f"There was no fake impl registered for {op.opdef}. This is necessary for "
                           f"torch.compile/export/fx tracing to work. Please use "
                           f"`{op.opdef._init_fn.__name__}.register_fake` to add an fake impl.")
    raise _unavailable(op, "Meta")


def _backend_kernel(op: _Overload, device_type: str):
    """The kernel that computes the op for ``device_type``, and whether autograd differentiates through it."""
    if device_type == "meta":
        return _meta_kernel(op), False
    key = _DEVICE_KEYS.get(device_type, device_type)
    kernel = op.kernel(key) or op.kernel("CompositeExplicitAutograd")
    if kernel is not None:
        return kernel, False
    kernel = op.kernel("CompositeImplicitAutograd")
    if kernel is None:
        if op.opdef is not None and op.opdef._has_device_argument_only:
            raise RuntimeError(f"{op.opdef._name} does not have a kernel registered for {device_type}. Please use "
                               "register_kernel to do so.")
        raise _unavailable(op, key)
    return kernel, True


def _call(op: _Overload, args: tuple, kwargs: dict):
    schema = op.schema
    args, kwargs = _bind(schema, args, kwargs)
    device_type = _device_type(schema, args, kwargs)
    autograd_kernel = op.kernel(f"Autograd{_DEVICE_KEYS.get(device_type, '')}") or op.kernel("Autograd")
    if autograd_kernel is not None and device_type != "meta":
        result = autograd_kernel(*args, **kwargs)
    else:
        kernel, composite = _backend_kernel(op, device_type)
        info = op.opdef._autograd if op.opdef is not None else (op.autograd[-1][1] if op.autograd else None)
        if (info is not None and not composite and grad_mode.is_grad_enabled()
                and any(t.requires_grad for t in _tensors_in(args))):
            result = _autograd_function(op, info).run(kernel, args, kwargs)
        elif info is not None and not composite:
            with grad_mode.no_grad():
                result = kernel(*args, **kwargs)
        else:
            result = kernel(*args, **kwargs)
    if op.opdef is not None and device_type != "meta":
        _check_no_aliasing(op, args, kwargs, result)
    values = dict(zip([a.name for a in schema.arguments if not a.kwarg_only], args)) | kwargs
    for arg in schema.arguments:
        if arg.is_write and values[arg.name] is not None:
            increment_version([t for t in _tensors_in([values[arg.name]])])
    return result


def _check_no_aliasing(op: _Overload, args: list, kwargs: dict, result) -> None:
    inputs = _tensors_in([*args, *kwargs.values()])
    outputs = _tensors_in(result if isinstance(result, (list, tuple)) else [result])
    for i, out in enumerate(outputs):
        others = inputs + outputs[:i]
        if any(out is t or _shares_memory(out, t) for t in others):
            raise RuntimeError(
                f"{op.opdef._name} (with implementation in {op.opdef._init_fn.__module__}): The output of this custom "
                "operator (1) must not also be an input to this custom operator and (2) may not alias any inputs to "
                "this custom operator or other returns. The most common way to trigger this error is if we have "
                "y = custom_op(x) and y and x are the same Tensor. Please instead return a clone of the offending "
                "output tensor(s) (e.g. return x.clone()) or refactor the custom operator to not return y.")


def _shares_memory(a: Tensor, b: Tensor) -> bool:
    from trainer.backend import xp_of

    return a.device == b.device and a._data.size > 0 and bool(xp_of(a._data).may_share_memory(a._data, b._data))


class _AutogradCall:
    """The generated ``trainer.autograd.Function`` of one op with an autograd formula. Tensor-list arguments and
    results travel flattened through ``Function.apply`` (which sees only top-level tensors) and are regrouped
    for the user's ``setup_context`` and ``backward``."""

    def __init__(self, op: _Overload, info: _AutogradInfo):
        schema = op.schema
        has_kwarg_only = any(a.kwarg_only for a in schema.arguments)
        name = f"GeneratedBackwardFor_{schema.name.replace('::', '_')}_{schema.overload_name or 'default'}"
        qualified = f"{schema.name.replace('::', '.')}.{schema.overload_name or 'default'}"

        def forward(ctx, *flat):
            call = flat[-1]
            args = _regroup(list(flat[:-1]), call["arg_lengths"])
            result = call["kernel"](*args, **call["kwargs"])
            if info.setup_context is not None:
                if has_kwarg_only:
                    info.setup_context(ctx=ctx, inputs=tuple(args), keyword_only_inputs=call["kwargs"], output=result)
                else:
                    info.setup_context(ctx=ctx, inputs=tuple(args), output=result)
            ctx._call_lengths = call["arg_lengths"]
            call["result_is_list"] = isinstance(result, list)
            ctx._result_is_list = call["result_is_list"]
            return tuple(result) if isinstance(result, list) else result

        def backward(ctx, *grads):
            if info.backward is None:
                raise RuntimeError(f"Trying to backward through {qualified} but no autograd formula was registered. "
                                   "Please use register_autograd to add one.")
            flat_needs = ctx.needs_input_grad
            try:
                ctx.needs_input_grad = tuple(_regroup(list(flat_needs[:-1]), ctx._call_lengths))
                returned = info.backward(ctx, list(grads)) if ctx._result_is_list else info.backward(ctx, *grads)
            finally:
                ctx.needs_input_grad = flat_needs
            returned = returned if isinstance(returned, tuple) else (returned,)
            return (*_flatten_grads(returned, ctx._call_lengths), None)

        self.function = type(name, (Function,), {"forward": staticmethod(forward),
                                                 "backward": staticmethod(backward)})

    def run(self, kernel, args: list, kwargs: dict):
        lengths = [len(a) if _is_tensor_list(a) else None for a in args]
        flat = [t for a, n in zip(args, lengths) for t in (a if n is not None else (a,))]
        call = {"kernel": kernel, "kwargs": kwargs, "arg_lengths": lengths}
        result = self.function.apply(*flat, call)
        return list(result) if call["result_is_list"] else result


def _is_tensor_list(value) -> bool:
    return isinstance(value, list) and all(v is None or isinstance(v, Tensor) for v in value) and bool(value)


def _regroup(flat: list, lengths: list) -> list:
    grouped, i = [], 0
    for n in lengths:
        grouped.append(flat[i] if n is None else list(flat[i:i + n]))
        i += 1 if n is None else n
    return grouped


def _flatten_grads(returned: tuple, lengths: list) -> list:
    if len(returned) != len(lengths):
        raise RuntimeError(f"the backward of a custom op returned {len(returned)} gradient(s) but the operator has "
                           f"{len(lengths)} input(s): return one gradient (or None) per input")
    flat = []
    for g, n in zip(returned, lengths):
        if n is None:
            flat.append(g)
        elif g is None:
            flat.extend([None] * n)
        elif len(g) != n:
            raise RuntimeError(f"Expected the return from backward to be of the same structure as the inputs: a list "
                               f"of {n} gradients for a list of {n} tensors, got {len(g)}")
        else:
            flat.extend(g)
    return flat


def _autograd_function(op: _Overload, info: _AutogradInfo) -> _AutogradCall:
    if info.function is None:
        info.function = _AutogradCall(op, info)
    return info.function


# ---------------------------------------------------------------------------------------------- custom_op
class CustomOpDef:
    """What ``custom_op`` returns: callable like the function it wraps, with methods that register more behaviour.
    Not made directly: use ``trainer.library.custom_op``."""

    def __init__(self, namespace: str, name: str, schema: str, fn: Callable):
        self._namespace, self._name, self._init_fn = namespace, name, fn
        self._abstract_fn: Callable | None = None
        self._autograd = _AutogradInfo(None, None)
        if any(a.kwarg_only and a.is_tensor_like for a in parse_schema(name + schema).arguments):
            raise NotImplementedError(f"custom_op with kwarg-only Tensor args. Please make your tensors not "
                                      f"kwarg-only. Got: {name}{schema}")
        self._lib = _library_allowing_overwrite(namespace, name)
        self._lib.define(name + schema)
        self._op = _OPERATORS[_op_key(namespace, name)]
        self._op.opdef = self
        self._schema = self._op.schema
        self._has_device_argument_only = False

    @property
    def _qualname(self) -> str:
        return f"{self._namespace}::{self._name}"

    @property
    def _opoverload(self) -> OpOverload:
        return OpOverload(self._namespace, self._name, self._schema.overload_name or "default")

    def __repr__(self) -> str:
        return f"<CustomOpDef({self._qualname})>"

    def __call__(self, *args, **kwargs):
        return _traced_or_called(self._opoverload, args, kwargs)

    def register_kernel(self, device_types, fn: Callable | None = None, /):
        """Register ``fn`` as this op's implementation for ``device_types`` (``"cpu"``, ``"cuda"``; None: every
        device). A decorator without ``fn``."""
        keys = [_device_type_key(t) for t in _device_types(device_types)]
        if device_types is not None and not any(a.is_tensor_like for a in self._schema.arguments):
            if not any(a.type.rstrip("?") == "Device" for a in self._schema.arguments):
                raise ValueError("Functions without tensor inputs are required to have a `device: torch.device` "
                                 "argument")
            self._has_device_argument_only = True

        def register(fn):
            for key in keys:
                self._lib.impl(self._name, fn, key)
            return fn

        return register if fn is None else register(fn)

    def register_fake(self, fn: Callable, /) -> Callable:
        """Register what this op returns for ``meta`` tensors (shapes and dtypes, no data)."""
        self._abstract_fn = fn
        return fn

    def register_autograd(self, backward: Callable, /, *, setup_context: Callable | None = None) -> None:
        """Make this op differentiable: ``backward(ctx, *grads)`` returns one gradient per input (None for
        non-tensors); ``setup_context(ctx, inputs, output)`` (with ``keyword_only_inputs`` where the op has
        keyword-only arguments) saves what backward needs."""
        _check_functional(self._schema, repr(self))
        self._autograd.backward, self._autograd.setup_context = backward, setup_context
        self._autograd.function = None


def _check_functional(schema: FunctionSchema, what: str) -> None:
    if schema.is_mutable:
        raise RuntimeError(f"Cannot register autograd formula for non-functional operator {what} with schema "
                           f"{schema}. Please create a functional operator and register an autograd formula for that.")


def _device_types(device_types) -> list:
    if device_types is None or isinstance(device_types, str):
        return [device_types] if device_types is not None else ["default"]
    return list(device_types)


_OPDEF_LIBRARIES: dict[str, Library] = {}


def _library_allowing_overwrite(namespace: str, name: str) -> Library:
    """A custom op may be defined again under the same name (a re-run cell, a reloaded module): the new
    definition replaces the old one, as in PyTorch."""
    qualname = f"{namespace}::{name}"
    if qualname in _OPDEF_LIBRARIES:
        _OPDEF_LIBRARIES.pop(qualname)._destroy()
    lib = Library(namespace, "FRAGMENT")
    _OPDEF_LIBRARIES[qualname] = lib
    return lib


def custom_op(name: str, fn: Callable | None = None, /, *, mutates_args: str | Iterable[str],
              device_types: str | Sequence[str] | None = None, schema: str | None = None):
    """``torch.library.custom_op``: ``fn`` (type-hinted) as the operator ``name`` (``"namespace::name"``), callable
    directly and as ``trainer.ops.namespace.name``. ``mutates_args`` names the Tensor arguments it changes in
    place (``()`` for none, ``"unknown"`` for all). A decorator without ``fn``."""

    def inner(fn: Callable) -> CustomOpDef:
        schema_str = infer_schema(fn, mutates_args=mutates_args) if schema is None else schema
        namespace, opname = parse_namespace(name)
        result = CustomOpDef(namespace, opname, schema_str, fn)
        if schema is not None:
            expected = {a.name for a in result._schema.arguments if a.is_write}
            if not isinstance(mutates_args, str) and expected != set(mutates_args):
                raise ValueError(f"Attempted to create a custom op with `mutates_args={mutates_args}` and "
                                 f"`schema={schema}. The schema suggests that the op mutates {expected} which is "
                                 "different from what was provided to us in `mutates_args`. Please make these "
                                 "consistent.")
        result.register_kernel(device_types)(fn)
        return result

    return inner if fn is None else inner(fn)


# ---------------------------------------------------------------------------------------------- module-level API
def _library_for(namespace: str, lib: Library | None) -> Library:
    if lib is not None:
        return lib
    lib = Library(namespace, "FRAGMENT")
    _KEEP_ALIVE.append(lib)
    return lib


def _opdef_or_qualname(op, api_name: str):
    if not isinstance(op, (str, OpOverload, CustomOpDef)):
        raise ValueError(f"{api_name}({op}): got unexpected type for op: {type(op)}")
    if isinstance(op, CustomOpDef):
        return op
    qualname = op if isinstance(op, str) else op._qualified_name
    found = _OPERATORS.get(_op_key(*parse_namespace(qualname)))
    return found.opdef if found is not None and found.opdef is not None else qualname


def define(qualname: str, schema: str, *, lib: Library | None = None, tags=()) -> None:
    """``torch.library.define("ns::name", "(Tensor x) -> Tensor")``: a new operator, without implementations."""
    if not isinstance(qualname, str):
        raise ValueError(f"define(qualname, schema): expected qualname to be instance of str, got {type(qualname)}")
    namespace, name = parse_namespace(qualname)
    if not _NAMELESS_SCHEMA.fullmatch(schema):
        raise ValueError(f'define(qualname, schema, ...): expected schema to look like e.g. "(Tensor x) -> Tensor" '
                         f'but got "{schema}"')
    _library_for(namespace, lib).define(name + schema, tags=tags)


def impl(qualname: str, types, func: Callable | None = None, *, lib: Library | None = None):
    """``torch.library.impl``: register ``func`` for device type(s) ``types`` (``"cpu"``, ``"cuda"``,
    ``"default"`` for all) or dispatch keys. A decorator without ``func``."""
    keys = {_device_type_key(t) for t in ((types,) if isinstance(types, str) else types)}

    def register(func):
        namespace, name = parse_namespace(qualname)
        use_lib = _library_for(namespace, lib)
        for key in keys:
            use_lib.impl(name, func, key)
        return func

    return register if func is None else register(func)


def register_kernel(op, device_types, func: Callable | None = None, /, *, lib: Library | None = None):
    """``torch.library.register_kernel``: ``CustomOpDef.register_kernel`` for an op given by name or object."""
    op = _opdef_or_qualname(op, "register_kernel")
    if isinstance(op, CustomOpDef):
        return op.register_kernel(device_types, func)
    return impl(op, "default" if device_types is None else device_types, func, lib=lib)


def register_fake(op, func: Callable | None = None, /, *, lib: Library | None = None, allow_override: bool = False):
    """``torch.library.register_fake``: what the op returns for ``meta`` tensors. A decorator without ``func``."""
    op = _opdef_or_qualname(op, "register_fake")

    def register(func):
        if isinstance(op, CustomOpDef):
            return op.register_fake(func)
        namespace, name = parse_namespace(op)
        _library_for(namespace, lib)._register_fake(name, func, allow_override=allow_override)
        return func

    return register if func is None else register(func)


def register_autograd(op, backward: Callable, /, *, setup_context: Callable | None = None,
                      lib: Library | None = None) -> None:
    """``torch.library.register_autograd``: make an op differentiable (see ``CustomOpDef.register_autograd``)."""
    op = _opdef_or_qualname(op, "register_autograd")
    if isinstance(op, CustomOpDef):
        op.register_autograd(backward, setup_context=setup_context)
        return
    namespace, name = parse_namespace(op)
    found = _OPERATORS.get(_op_key(namespace, name))
    if found is None or found.schema is None:
        raise RuntimeError(f"Could not find the operator {op}. Please make sure you have already registered the "
                           "operator and (if registered from C++) loaded it via torch.ops.load_library.")
    _check_functional(found.schema, op)
    if any(a.kwarg_only and a.is_tensor_like for a in found.schema.arguments):
        raise NotImplementedError(f"register_autograd with kwarg-only Tensor args. In the original definition of the "
                                  f"op, please make your tensors not kwarg-only. Got: {found.schema}")
    _library_for(namespace, lib)._register_autograd(name, _AutogradInfo(backward, setup_context))


# ---------------------------------------------------------------------------------------------- trainer.ops.<ns>
def _traced_or_called(op: OpOverload, args: tuple, kwargs: dict):
    """Runs ``op``; under trainer.fx or trainer.export tracing (a Proxy among the arguments) records it as one
    call_function node instead, as torch.fx and torch.export record a ``torch.ops`` call."""
    from trainer.fx.proxy import Proxy  # trainer.fx is loaded after this module

    proxy = next((a for a in tree_flatten([args, kwargs])[0] if isinstance(a, Proxy)), None)
    if proxy is not None:
        return proxy.tracer.create_proxy("call_function", op, args, kwargs)
    return _call(op._op, args, kwargs)


class OpOverload:
    """``trainer.ops.ns.name.overload``: one overload, callable."""

    def __init__(self, namespace: str, name: str, overload: str):
        self._namespace, self._opname, self._overloadname = namespace, name, overload
        suffix = "" if overload == "default" else f".{overload}"
        self._qualified_name = f"{namespace}::{name}{suffix}"
        self._name = f"{namespace}::{name}"
        # as torch's: an fx graph names the op's nodes after __name__ and calls it by module and qualname
        self.__name__ = self.__qualname__ = f"{name}.{overload}"
        self.__module__ = f"trainer.ops.{namespace}"

    @property
    def _op(self) -> _Overload:
        found = _OPERATORS.get(self._qualified_name)
        if found is None or found.schema is None:
            raise AttributeError(f"'_OpNamespace' '{self._namespace}' object has no attribute '{self._opname}' (its "
                                 "Library was destroyed)")
        return found

    @property
    def _schema(self) -> FunctionSchema:
        return self._op.schema

    @property
    def overloadpacket(self) -> OpOverloadPacket:
        return OpOverloadPacket(self._namespace, self._opname)

    def name(self) -> str:
        return self._qualified_name

    def __call__(self, *args, **kwargs):
        return _traced_or_called(self, args, kwargs)

    def __repr__(self) -> str:
        return f"<OpOverload(op='{self._namespace}.{self._opname}', overload='{self._overloadname}')>"

    def __str__(self) -> str:
        return f"{self._namespace}.{self._opname}.{self._overloadname}"

    def __eq__(self, other) -> bool:
        return isinstance(other, OpOverload) and other._qualified_name == self._qualified_name

    def __hash__(self) -> int:
        return hash(self._qualified_name)


class OpOverloadPacket:
    """``trainer.ops.ns.name``: the overloads of one operator name; calling it calls the first overload whose
    schema accepts the arguments."""

    def __init__(self, namespace: str, name: str):
        self._namespace, self._opname = namespace, name
        self._qualified_op_name = f"{namespace}::{name}"

    def overloads(self) -> list[str]:
        prefix = self._qualified_op_name
        return [("default" if key == prefix else key[len(prefix) + 1:]) for key, op in _OPERATORS.items()
                if op.schema is not None and (key == prefix or key.startswith(prefix + "."))]

    def __getattr__(self, overload: str) -> OpOverload:
        if overload.startswith("__") or overload not in self.overloads():
            raise AttributeError(f"The underlying op of '{self}' has no overload name '{overload}'")
        return OpOverload(self._namespace, self._opname, overload)

    def __call__(self, *args, **kwargs):
        overloads = self.overloads()
        for overload in overloads[:-1]:
            op = getattr(self, overload)
            try:
                _bind(op._schema, args, kwargs)
            except RuntimeError:
                continue
            return op(*args, **kwargs)
        return getattr(self, overloads[-1])(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<OpOverloadPacket(op='{self._namespace}.{self._opname}')>"

    def __str__(self) -> str:
        return f"{self._namespace}.{self._opname}"


class OpNamespace:
    """``trainer.ops.ns``: the operators defined in namespace ``ns``."""

    def __init__(self, name: str):
        self.name = name

    def __getattr__(self, op_name: str) -> OpOverloadPacket:
        packet = OpOverloadPacket(self.name, op_name)
        if op_name.startswith("__") or not packet.overloads():
            raise AttributeError(f"'_OpNamespace' '{self.name}' object has no attribute '{op_name}'")
        return packet

    def __repr__(self) -> str:
        return f"<module 'trainer.ops.{self.name}' from 'trainer.ops'>"


def op_namespace(name: str) -> OpNamespace:
    """The namespace ``trainer.ops.<name>`` holds, if an operator has been defined in it."""
    if not any(key.startswith(f"{name}::") and op.schema is not None for key, op in _OPERATORS.items()):
        raise AttributeError(f"module 'trainer.ops' has no attribute '{name}' (no operator has been defined in a "
                             f"'{name}' namespace through trainer.library)")
    return OpNamespace(name)
