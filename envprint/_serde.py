"""Converts the frozen dataclasses of `envprint.model` to plain data and back, checking every type.

Plain data is what msgpack and JSON can hold: dicts with str keys, lists, str, int, float, bool,
None, bytes. `Unavailable(reason)` is written as the one-key map ``{"$unavailable": reason}``.
Decoding follows the schema, not the data: untyped values are refused past a fixed depth, and the
one self-referencing type (GPU MIG devices) is bounded by Python's recursion limit, which
`Fingerprint.from_data` reports as a format error. Any mismatch raises `SchemaMismatch` naming the
path of the offending value.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from envprint._base import UNAVAILABLE_KEY, Unavailable

_NONE_TYPE = type(None)


class SchemaMismatch(ValueError):
    """A value does not have the type the schema asks for at `path`."""

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(f"{path or '<root>'}: {detail}")
        self.path = path
        self.detail = detail


def to_data(obj: Any) -> Any:
    """Returns `obj` as plain data: dataclasses become maps, tuples lists, mappings sorted maps."""
    if isinstance(obj, Unavailable):
        return {UNAVAILABLE_KEY: obj.reason}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_data(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_data(obj[k]) for k in sorted(obj)}
    if isinstance(obj, (tuple, list)):
        return [to_data(v) for v in obj]
    return obj


@functools.cache
def type_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


Decoder = Callable[[Any], Any]


def from_data(tp: Any, data: Any, path: str = "") -> Any:
    """Returns `data` decoded as type `tp`; raises `SchemaMismatch` where the data does not fit.

    Each type's decoder is built once and cached, so decoding a fingerprint does no typing
    introspection per value; the path of a mismatch is assembled only when one is raised.
    """
    try:
        return _decoder(tp)(data)
    except SchemaMismatch as e:
        raise SchemaMismatch(_join(path, e.path), e.detail) from None


def _join(prefix: str, suffix: str) -> str:
    if not prefix:
        return suffix
    if not suffix:
        return prefix
    return prefix + suffix if suffix.startswith("[") else f"{prefix}.{suffix}"


def _at(key: str | int, decode: Decoder, value: Any) -> Any:
    """Returns decode(value), prefixing the path of a mismatch with `key`."""
    try:
        return decode(value)
    except SchemaMismatch as e:
        raise SchemaMismatch(_join(f"[{key}]" if isinstance(key, int) else key, e.path), e.detail) from None


@functools.cache
def _decoder(tp: Any) -> Decoder:
    """Returns the function that decodes plain data as type `tp` (built once per type)."""
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return _union_decoder(typing.get_args(tp))
    if tp is Any:
        return lambda data: _plain(data, "")
    if tp is Unavailable:
        return lambda data: _unavailable(data, "")
    if tp is _NONE_TYPE or tp is None:
        return _check(lambda d: d is None, "null")
    if tp is bool:
        return _check(lambda d: isinstance(d, bool), "a boolean")
    if tp is int:
        return _check(lambda d: isinstance(d, int) and not isinstance(d, bool), "an integer")
    if tp is float:
        return _float
    if tp is str:
        return _check(lambda d: isinstance(d, str), "text")
    if tp is bytes:
        return _check(lambda d: isinstance(d, bytes), "bytes")
    if origin is tuple:
        return _tuple_decoder(typing.get_args(tp))
    if origin in (dict, Mapping, typing.Mapping) or tp is dict:
        args = typing.get_args(tp) or (str, Any)
        return _mapping_decoder(_decoder(args[1]))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass_decoder(tp)
    raise SchemaMismatch("", f"schema type {tp!r} is not supported")  # a bug in the model, not the data


def _check(ok: Callable[[Any], bool], expected: str) -> Decoder:
    def decode(data: Any) -> Any:
        if not ok(data):
            raise SchemaMismatch("", f"expected {expected}, found {_kind(data)}")
        return data

    return decode


def _float(data: Any) -> float:
    if not isinstance(data, (int, float)) or isinstance(data, bool):
        raise SchemaMismatch("", f"expected a number, found {_kind(data)}")
    return float(data)


def _tuple_decoder(args: tuple[Any, ...]) -> Decoder:
    if len(args) == 2 and args[1] is Ellipsis:
        item = _decoder(args[0])

        def decode_items(data: Any) -> tuple[Any, ...]:
            if not isinstance(data, (list, tuple)):
                raise SchemaMismatch("", f"expected a list, found {_kind(data)}")
            return tuple(_at(i, item, v) for i, v in enumerate(data))

        return decode_items
    items = [_decoder(a) for a in args]

    def decode_fixed(data: Any) -> tuple[Any, ...]:
        if not isinstance(data, (list, tuple)):
            raise SchemaMismatch("", f"expected a list, found {_kind(data)}")
        if len(items) != len(data):
            raise SchemaMismatch("", f"expected {len(items)} items, found {len(data)}")
        return tuple(_at(i, d, v) for i, (d, v) in enumerate(zip(items, data, strict=True)))

    return decode_fixed


def _mapping_decoder(value: Decoder) -> Decoder:
    def decode(data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise SchemaMismatch("", f"expected a map, found {_kind(data)}")
        out = {}
        for k, v in data.items():
            if not isinstance(k, str):
                raise SchemaMismatch("", f"expected text keys, found {_kind(k)}")
            out[k] = _at(k, value, v)
        return out

    return decode


def _dataclass_decoder(cls: type) -> Decoder:
    hints = type_hints(cls)
    plan = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default: Callable[[], Any] | None = functools.partial(_same, f.default)
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory
        elif _accepts_unavailable(hints[f.name]):
            # a field added by a later schema: unknown is not absent
            default = functools.partial(Unavailable, "not recorded by the envprint that wrote this fingerprint")
        else:
            default = None
        plan.append((f.name, _LazyDecoder(hints[f.name]), default))

    def decode(data: Any) -> Any:
        if not isinstance(data, dict):
            raise SchemaMismatch("", f"expected a map, found {_kind(data)}")
        kwargs: dict[str, Any] = {}
        for name, field_decoder, default in plan:
            if name in data:
                kwargs[name] = _at(name, field_decoder, data[name])
            elif default is not None:
                kwargs[name] = default()
            else:
                raise SchemaMismatch(name, "required field is missing")
        return cls(**kwargs)

    return decode


def _same(value: Any) -> Any:
    return value


class _LazyDecoder:
    """Resolves a field's decoder on first use, so self-referencing classes (GpuDevice) can be built."""

    __slots__ = ("_decode", "_tp")

    def __init__(self, tp: Any) -> None:
        self._tp = tp
        self._decode: Decoder | None = None

    def __call__(self, data: Any) -> Any:
        if self._decode is None:
            self._decode = _decoder(self._tp)
        return self._decode(data)


def _union_decoder(args: tuple[Any, ...]) -> Decoder:
    has_unavailable = Unavailable in args
    has_none = _NONE_TYPE in args
    others = [a for a in args if a is not Unavailable and a is not _NONE_TYPE]
    decoders = [_LazyDecoder(a) for a in others]
    names = ", ".join(_type_name(a) for a in args)

    def decode(data: Any) -> Any:
        if has_unavailable and isinstance(data, dict) and UNAVAILABLE_KEY in data:
            return _unavailable(data, "")
        if data is None and has_none:
            return None
        if len(decoders) == 1:
            return decoders[0](data)
        for d in decoders:
            try:
                return d(data)
            except SchemaMismatch:
                continue
        raise SchemaMismatch("", f"expected one of {names}, found {_kind(data)}")

    return decode


def _unavailable(data: Any, path: str) -> Unavailable:
    if not isinstance(data, dict) or set(data) != {UNAVAILABLE_KEY} or not isinstance(data[UNAVAILABLE_KEY], str):
        raise SchemaMismatch(path, "expected an Unavailable marker {'$unavailable': reason}")
    return Unavailable(data[UNAVAILABLE_KEY])


#: untyped data (custom metadata, embedded policies) nested deeper than this is refused
MAX_PLAIN_DEPTH = 32


def _plain(data: Any, path: str, depth: int = 0) -> Any:
    """Checks that untyped data holds only plain scalars, lists and str-keyed maps, not too deep."""
    if data is None or isinstance(data, (str, int, float, bool, bytes)):
        return data
    if depth >= MAX_PLAIN_DEPTH:
        raise SchemaMismatch(path, f"nested more than {MAX_PLAIN_DEPTH} levels deep")
    if isinstance(data, dict):
        if UNAVAILABLE_KEY in data:
            return _unavailable(data, path)
        out = {}
        for k, v in data.items():
            if not isinstance(k, str):
                raise SchemaMismatch(path, f"expected text keys, found {_kind(k)}")
            out[k] = _plain(v, f"{path}.{k}" if path else k, depth + 1)
        return out
    if isinstance(data, (list, tuple)):
        return tuple(_plain(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(data))
    raise SchemaMismatch(path, f"unexpected {_kind(data)}")


def _accepts_unavailable(tp: Any) -> bool:
    return Unavailable in typing.get_args(tp)


def _type_name(tp: Any) -> str:
    return "null" if tp is _NONE_TYPE else getattr(tp, "__name__", str(tp))


def _kind(data: Any) -> str:
    if data is None:
        return "null"
    return {
        dict: "a map",
        list: "a list",
        tuple: "a list",
        str: "text",
        bytes: "bytes",
        bool: "a boolean",
    }.get(type(data), type(data).__name__)
