"""Encoding of in-memory state (checkpoints, snapshots): dataclasses, sets and deques over the codec.

A checkpoint holds *state*, not events: slotted dataclasses nesting dicts, lists, sets, deques and
the values :mod:`core.codec` knows. ``StateCodec`` writes each dataclass as a msgpack extension
value naming its class and holding its fields in declaration order, so plain dicts of station
data can never be mistaken for one. It decodes only the classes it was given; anything else (an
unknown class, a field count that does not match, a malformed blob) raises ``ValueError``, and the
caller then rebuilds the state from the log instead.

``fingerprint`` identifies the shape and the build: the classes' field names and declared types,
a version the owner bumps by hand, the package version and a hash of the source of the modules
whose code decides what the state means (its folds). A blob saved under another fingerprint is
foreign: a changed fold, a renamed field or another release all make the state refold once rather
than risk being wrong.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import deque
from collections.abc import Iterable
from importlib import metadata
from types import ModuleType
from typing import Any, Generic, TypeVar

import msgpack

from core.codec import _TEXT_ERRORS, _default, _ext_hook

__all__ = ["StateCodec", "build_fingerprint"]

T = TypeVar("T")

# Extension codes above those of core.codec (1-4), with room for it to grow.
_OBJECT = 64
_SET = 65
_DEQUE = 66


def build_fingerprint(version: int | str, modules: Iterable[ModuleType], classes: Iterable[type]) -> str:
    """A short hash of ``version``, the package version, the modules' source and the classes' fields."""
    digest = hashlib.sha256()
    try:
        digest.update(metadata.version("chargeward").encode())
    except metadata.PackageNotFoundError:
        digest.update(b"unpackaged")
    digest.update(str(version).encode())
    for module in modules:
        path = getattr(module, "__file__", None)
        digest.update(module.__name__.encode())
        if path is not None:
            with open(path, "rb") as source:
                digest.update(source.read())
    for cls in classes:
        digest.update(cls.__qualname__.encode())
        for f in dataclasses.fields(cls):
            digest.update(f"{f.name}:{f.type}".encode())
    return digest.hexdigest()[:16]


class StateCodec(Generic[T]):
    """Encodes a state of type ``root`` built from ``classes`` (``root`` included) to bytes and back."""

    def __init__(
        self, root: type[T], classes: Iterable[type], *, version: int | str, modules: Iterable[ModuleType]
    ) -> None:
        self.root = root
        self.classes = {cls.__qualname__: cls for cls in {root, *classes}}
        for cls in self.classes.values():
            if not dataclasses.is_dataclass(cls):
                raise TypeError(f"{cls.__qualname__} is not a dataclass")
        self._errors: str | None = None
        self._fields = {
            name: tuple(f.name for f in dataclasses.fields(cls)) for name, cls in self.classes.items()
        }
        ordered = sorted(self.classes.values(), key=lambda c: c.__qualname__)
        self.fingerprint = build_fingerprint(version, modules, ordered)

    def encode(self, state: T) -> bytes:
        """The state as bytes; TypeError for a value neither the codec nor this class knows.

        Lone surrogates (kept as stations sent them, see :mod:`core.codec`) are written as the
        codec writes them; the slower error handler is used only for a state that needs it.
        """
        self._errors = None
        try:
            return self._pack(state)
        except UnicodeEncodeError:
            self._errors = _TEXT_ERRORS
            return self._pack(state)

    def decode(self, blob: bytes) -> T:
        """The state ``blob`` holds; ValueError if it is not a state of this codec's shape."""
        try:
            state = self._unpack(blob)
        except ValueError:
            raise
        except Exception as e:  # TypeError from a constructor, msgpack's own errors: all mean foreign
            raise ValueError(f"{type(e).__name__}: {e}") from e
        if not isinstance(state, self.root):
            raise ValueError(f"state is a {type(state).__qualname__}, not a {self.root.__qualname__}")
        return state

    def _default(self, obj: object) -> msgpack.ExtType:
        name = type(obj).__qualname__
        fields = self._fields.get(name)
        if fields is not None and type(obj) is self.classes[name]:
            body = [name, *(getattr(obj, f) for f in fields)]
            return msgpack.ExtType(_OBJECT, self._pack(body))
        if isinstance(obj, set | frozenset):
            return msgpack.ExtType(_SET, self._pack(sorted(obj, key=repr)))
        if isinstance(obj, deque):
            return msgpack.ExtType(_DEQUE, self._pack([obj.maxlen, list(obj)]))
        return _default(obj)

    def _pack(self, obj: object) -> bytes:
        return msgpack.packb(  # type: ignore[no-any-return]
            obj, default=self._default, use_bin_type=True, datetime=False, unicode_errors=self._errors
        )

    def _unpack(self, data: bytes) -> Any:
        return msgpack.unpackb(
            data,
            ext_hook=self._ext_hook,
            raw=False,
            strict_map_key=False,
            timestamp=0,
            unicode_errors=_TEXT_ERRORS,
        )

    def _ext_hook(self, code: int, data: bytes) -> object:
        if code == _OBJECT:
            name, *values = self._unpack(data)
            cls = self.classes.get(name)
            if cls is None:
                raise ValueError(f"unknown state class {name!r}")
            if len(values) != len(self._fields[name]):
                raise ValueError(f"{name} has {len(self._fields[name])} fields, the blob {len(values)}")
            return cls(*values)
        if code == _SET:
            return set(self._unpack(data))
        if code == _DEQUE:
            maxlen, items = self._unpack(data)
            return deque(items, maxlen=maxlen)
        return _ext_hook(code, data)
