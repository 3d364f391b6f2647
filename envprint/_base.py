"""The building blocks of the data model: `Unavailable`, descriptive fields, and the frozen record base.

They live apart from the model's sections so that the plain-data codec (`envprint._serde`) can use
them without importing the model, whose methods use the codec.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias, TypeVar

if sys.version_info >= (3, 11):
    from typing import dataclass_transform
else:  # Python 3.10: the decorator only informs type checkers

    def dataclass_transform(**_: Any) -> Any:
        return lambda f: f


__all__ = [
    "PENDING",
    "UNAVAILABLE_KEY",
    "Record",
    "Scalar",
    "Unavailable",
    "descriptive",
    "is_descriptive",
    "is_pending",
    "is_unavailable",
    "pending",
    "record",
]

#: how `Unavailable(reason)` is written in plain data: the one-key map {"$unavailable": reason}
UNAVAILABLE_KEY = "$unavailable"


@dataclass(frozen=True, slots=True)
class Unavailable:
    """A value that could not be measured on this host, with the reason why."""

    reason: str

    def __str__(self) -> str:
        return f"unavailable ({self.reason})"


#: the reason prefix of a value this process cannot measure yet, but will later in its life (a
#: framework runtime not initialised when the guard runs): reported with how to measure it, not refused
PENDING = "not measured yet: "


def pending(reason: str) -> Unavailable:
    """Returns the Unavailable of a value that cannot be measured yet in this process, but will be later."""
    return Unavailable(PENDING + reason)


def is_pending(value: Any) -> bool:
    """Returns whether `value` (an object or its plain-data marker) is a not-yet-measured Unavailable."""
    if isinstance(value, Unavailable):
        return value.reason.startswith(PENDING)
    return is_unavailable(value) and str(value[UNAVAILABLE_KEY]).startswith(PENDING)


def is_unavailable(value: Any) -> bool:
    """Returns whether `value` is `Unavailable`, as an object or as its plain-data marker."""
    return isinstance(value, Unavailable) or (
        isinstance(value, dict) and len(value) == 1 and isinstance(value.get(UNAVAILABLE_KEY), str)
    )


#: a leaf value of the free-form maps (framework state, custom metadata)
Scalar: TypeAlias = str | int | float | bool | Unavailable | None


def descriptive(*, default: Any = dataclasses.MISSING) -> Any:
    """Returns a dataclass field marked descriptive: shown, never an identity difference."""
    if default is dataclasses.MISSING:
        return field(metadata={"descriptive": True})
    return field(default=default, metadata={"descriptive": True})


def is_descriptive(cls: type, name: str) -> bool:
    """Returns whether field `name` of dataclass `cls` is descriptive rather than identity."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            return bool(f.metadata.get("descriptive", False))
    raise KeyError(f"{cls.__name__} has no field {name!r}")


class Record:
    """__init__, equality, hashing, repr and immutability shared by the model's classes.

    The model classes are dataclasses for their fields (`dataclasses.fields`, `replace`, `asdict`
    work) but their methods are written once here instead of generated and compiled per class by
    `dataclass`: the model is imported by every envprint process, and per-class code generation
    cost ~25 ms of that import.
    """

    __slots__ = ()
    __dataclass_fields__: ClassVar[dict[str, Any]]
    #: the instance fields in order, set by `record` (``__dataclass_fields__`` also lists ClassVars)
    _record_fields: ClassVar[dict[str, dataclasses.Field[Any]]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        fields = self._record_fields
        names = list(fields)
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__}() takes {len(names)} arguments, got {len(args)}")
        values = dict(zip(names[: len(args)], args, strict=True))
        for key, value in kwargs.items():
            if key not in fields:
                raise TypeError(f"{type(self).__name__}() got an unexpected argument {key!r}")
            if key in values:
                raise TypeError(f"{type(self).__name__}() got multiple values for argument {key!r}")
            values[key] = value
        for name in names:
            if name in values:
                value = values[name]
            else:
                f = fields[name]
                if f.default is not dataclasses.MISSING:
                    value = f.default
                elif f.default_factory is not dataclasses.MISSING:
                    value = f.default_factory()
                else:
                    raise TypeError(f"{type(self).__name__}() missing required argument {name!r}")
            object.__setattr__(self, name, value)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._record_fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Record)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((self.__class__, self._values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._record_fields)
        return f"{self.__class__.__qualname__}({fields})"

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


_T = TypeVar("_T", bound=type[Record])


@dataclass_transform(frozen_default=True, eq_default=True, field_specifiers=(field, descriptive))
def record(cls: _T) -> _T:
    """Returns `cls` made a frozen model class: dataclass fields, `Record`'s shared methods."""
    dataclass(init=False, eq=False, repr=False)(cls)  # adds the fields in place (no slots: same class)
    cls._record_fields = {f.name: f for f in dataclasses.fields(cls)}
    return cls
