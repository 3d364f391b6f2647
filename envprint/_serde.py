"""Converts the frozen dataclasses of `envprint.model` to plain data and back, checking every type.

Plain data is what msgpack and JSON can hold: dicts with str keys, lists, str, int, float, bool,
None, bytes. `Unavailable(reason)` is written as the one-key map ``{"$unavailable": reason}``.
Decoding follows the schema, not the data, so its depth is bounded whatever the input holds, and
any mismatch raises `SchemaMismatch` naming the path of the offending value.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any

from envprint.model import Unavailable

UNAVAILABLE_KEY = "$unavailable"
_NONE_TYPE = type(None)


class SchemaMismatch(ValueError):
    """A value does not have the type the schema asks for at `path`."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or '<root>'}: {message}")
        self.path = path


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
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_data(tp: Any, data: Any, path: str = "") -> Any:
    """Returns `data` decoded as type `tp`; raises `SchemaMismatch` where the data does not fit."""
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return _from_union(typing.get_args(tp), data, path)
    if tp is Any:
        return _plain(data, path)
    if tp is Unavailable:
        return _unavailable(data, path)
    if tp is _NONE_TYPE or tp is None:
        if data is not None:
            raise SchemaMismatch(path, f"expected null, found {_kind(data)}")
        return None
    if tp is bool:
        if not isinstance(data, bool):
            raise SchemaMismatch(path, f"expected a boolean, found {_kind(data)}")
        return data
    if tp is int:
        if not isinstance(data, int) or isinstance(data, bool):
            raise SchemaMismatch(path, f"expected an integer, found {_kind(data)}")
        return data
    if tp is float:
        if not isinstance(data, (int, float)) or isinstance(data, bool):
            raise SchemaMismatch(path, f"expected a number, found {_kind(data)}")
        return float(data)
    if tp is str:
        if not isinstance(data, str):
            raise SchemaMismatch(path, f"expected text, found {_kind(data)}")
        return data
    if tp is bytes:
        if not isinstance(data, bytes):
            raise SchemaMismatch(path, f"expected bytes, found {_kind(data)}")
        return data
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(data, (list, tuple)):
            raise SchemaMismatch(path, f"expected a list, found {_kind(data)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_data(args[0], v, f"{path}[{i}]") for i, v in enumerate(data))
        if len(args) != len(data):
            raise SchemaMismatch(path, f"expected {len(args)} items, found {len(data)}")
        return tuple(from_data(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, data, strict=True)))
    if origin in (dict, Mapping, typing.Mapping) or tp is dict:
        args = typing.get_args(tp) or (str, Any)
        if not isinstance(data, dict):
            raise SchemaMismatch(path, f"expected a map, found {_kind(data)}")
        out = {}
        for k, v in data.items():
            if not isinstance(k, str):
                raise SchemaMismatch(path, f"expected text keys, found {_kind(k)}")
            out[k] = from_data(args[1], v, f"{path}.{k}" if path else k)
        return out
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _from_dataclass(tp, data, path)
    raise SchemaMismatch(path, f"schema type {tp!r} is not supported")  # a bug in the model, not the data


def _from_dataclass(cls: type, data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise SchemaMismatch(path, f"expected a map, found {_kind(data)}")
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        sub = f"{path}.{f.name}" if path else f.name
        if f.name in data:
            kwargs[f.name] = from_data(hints[f.name], data[f.name], sub)
        elif f.default is not dataclasses.MISSING:
            kwargs[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            kwargs[f.name] = f.default_factory()
        elif _accepts_unavailable(hints[f.name]):
            # a field added by a later schema: unknown is not absent
            kwargs[f.name] = Unavailable("not recorded by the envprint that wrote this fingerprint")
        else:
            raise SchemaMismatch(sub, "required field is missing")
    return cls(**kwargs)


def _from_union(args: tuple[Any, ...], data: Any, path: str) -> Any:
    if isinstance(data, dict) and UNAVAILABLE_KEY in data and Unavailable in args:
        return _unavailable(data, path)
    if data is None and _NONE_TYPE in args:
        return None
    errors = []
    for a in args:
        if a is Unavailable or a is _NONE_TYPE:
            continue
        try:
            return from_data(a, data, path)
        except SchemaMismatch as e:
            errors.append(e)
    if len(errors) == 1:
        raise errors[0]
    names = ", ".join(_type_name(a) for a in args)
    raise SchemaMismatch(path, f"expected one of {names}, found {_kind(data)}")


def _unavailable(data: Any, path: str) -> Unavailable:
    if not isinstance(data, dict) or set(data) != {UNAVAILABLE_KEY} or not isinstance(data[UNAVAILABLE_KEY], str):
        raise SchemaMismatch(path, "expected an Unavailable marker {'$unavailable': reason}")
    return Unavailable(data[UNAVAILABLE_KEY])


def _plain(data: Any, path: str) -> Any:
    """Checks that untyped data holds only plain scalars, lists and str-keyed maps."""
    if data is None or isinstance(data, (str, int, float, bool, bytes)):
        return data
    if isinstance(data, dict):
        if UNAVAILABLE_KEY in data:
            return _unavailable(data, path)
        out = {}
        for k, v in data.items():
            if not isinstance(k, str):
                raise SchemaMismatch(path, f"expected text keys, found {_kind(k)}")
            out[k] = _plain(v, f"{path}.{k}")
        return out
    if isinstance(data, (list, tuple)):
        return tuple(_plain(v, f"{path}[{i}]") for i, v in enumerate(data))
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
