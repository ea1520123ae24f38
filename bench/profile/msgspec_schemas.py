"""msgspec Structs generated from the pydantic wire models, and the pydantic model built from one
without validating again. A prototype: the models stay the source of truth, the Structs are
derived at import, and ``test_msgspec_schemas.py`` checks they accept and refuse what pydantic does.

Only the field types the wire schemas use are translated; anything else raises, so a new field
type cannot silently decode differently.
"""

from __future__ import annotations

import types
import typing
import uuid
from datetime import datetime
from math import isfinite
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import annotated_types as at
import msgspec
from pydantic import AllowInfNan, AwareDatetime, BaseModel
from pydantic.fields import FieldInfo

M = TypeVar("M", bound=BaseModel)

_object_setattr = object.__setattr__


def _constraints(metadata: list[Any]) -> tuple[dict[str, Any], bool]:
    """msgspec.Meta keywords from pydantic field metadata, and whether inf/nan are refused."""
    meta: dict[str, Any] = {}
    finite = False
    flat: list[Any] = []
    for m in metadata:  # Field(...) inside Annotated carries its constraints as metadata
        flat.extend(m.metadata if isinstance(m, FieldInfo) else [m])
    for m in flat:
        if isinstance(m, at.MinLen):
            meta["min_length"] = m.min_length
        elif isinstance(m, at.MaxLen):
            meta["max_length"] = m.max_length
        elif isinstance(m, at.Ge):
            meta["ge"] = m.ge
        elif isinstance(m, at.Gt):
            meta["gt"] = m.gt
        elif isinstance(m, AllowInfNan):
            finite = not m.allow_inf_nan
        else:
            raise TypeError(f"no msgspec translation for constraint {m!r}")
    return meta, finite


def _translate(annotation: Any, metadata: list[Any]) -> tuple[Any, bool]:
    """The msgspec type of one pydantic field type, and whether it must be finite."""
    if get_origin(annotation) is Annotated:
        base, *extra = get_args(annotation)
        inner, _ = _translate(base, [])
        meta, finite = _constraints([*extra, *metadata])
        return (Annotated[inner, msgspec.Meta(**meta)] if meta else inner), finite
    if annotation is AwareDatetime:
        return Annotated[datetime, msgspec.Meta(tz=True)], False
    if annotation in (uuid.UUID, str, int, bool) or get_origin(annotation) is Literal:
        meta, finite = _constraints(metadata)
        return (Annotated[annotation, msgspec.Meta(**meta)] if meta else annotation), finite
    if annotation is float:
        meta, finite = _constraints(metadata)
        return (Annotated[float, msgspec.Meta(**meta)] if meta else float), finite
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = get_args(annotation)
        parts = [_translate(a, []) for a in args if a is not type(None)]
        if len(parts) != 1 or metadata:
            raise TypeError(f"no msgspec translation for {annotation!r}")
        inner, finite = parts[0]
        return inner | None, finite
    if origin is tuple:
        args = get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            inner, finite = _translate(args[0], [])
            return tuple[inner, ...], finite  # type: ignore[valid-type]
    raise TypeError(f"no msgspec translation for {annotation!r}")


class _Spec:
    """What is derived once per model: its Struct, and the fields that must be finite."""

    def __init__(self, model: type[BaseModel], tag: Any = None, tag_field: str | None = None):
        self.model = model
        self.fields = tuple(model.model_fields)
        # Shared by every instance (the models are frozen): which fields the input set is not
        # known after msgspec, so all count as set; nothing here reads exclude_unset.
        self.fields_set = set(self.fields)
        self.finite: list[str] = []
        struct_fields: list[tuple[Any, ...]] = []
        for name, info in model.model_fields.items():
            if name == tag_field:
                continue  # the union's tag: msgspec checks it and it is not a struct field
            typ, finite = _translate(info.annotation, list(info.metadata))
            if finite:
                self.finite.append(name)
            struct_fields.append(_field(name, typ, info))
        options: dict[str, Any] = {"forbid_unknown_fields": True, "kw_only": True}
        if tag_field is not None:
            options.update(tag_field=tag_field, tag=tag)
        self.struct = msgspec.defstruct(model.__name__, struct_fields, **options)
        self.tag_field, self.tag = tag_field, tag


def _field(name: str, typ: Any, info: FieldInfo) -> tuple[Any, ...]:
    if info.is_required():
        return (name, typ)
    return (name, typ, info.default)


_SPECS: dict[type, _Spec] = {}


def _spec(model: type[BaseModel], tag: Any = None, tag_field: str | None = None) -> _Spec:
    spec = _Spec(model, tag, tag_field)
    _SPECS[spec.struct] = spec
    return spec


def decoder(model: type[BaseModel], *, many: bool = False) -> msgspec.json.Decoder[Any]:
    """A strict JSON decoder of ``model``'s Struct (or a list of them)."""
    struct = _spec(model).struct
    return msgspec.json.Decoder(list[struct] if many else struct)  # type: ignore[valid-type]


def union_decoder(models: tuple[type[BaseModel], ...], tag_field: str = "schema_version") -> Any:
    """A decoder of a union discriminated by ``tag_field`` (its Literal default is each tag)."""
    structs = []
    for model in models:
        tag = model.model_fields[tag_field].default
        structs.append(_spec(model, tag, tag_field).struct)
    return msgspec.json.Decoder(typing.Union[tuple(structs)])  # type: ignore[arg-type]  # noqa: UP007


class NotFinite(ValueError):
    """A float field that must be finite is inf or nan (pydantic: ``finite_number``)."""


def to_model(model: type[M], struct: Any) -> M:
    """The pydantic model of a decoded Struct, without validating again (what
    ``model_construct`` does, minus its per-field alias handling)."""
    return to_model_of(struct)  # type: ignore[no-any-return]


def to_model_of(struct: Any) -> BaseModel:
    spec = _SPECS[type(struct)]
    values = msgspec.structs.asdict(struct)
    if spec.tag_field is not None:
        values[spec.tag_field] = spec.tag
    for name in spec.finite:
        v = values[name]
        if v is not None and not isfinite(v):
            raise NotFinite(f"{name}: not a finite number")
    m = spec.model.__new__(spec.model)
    _object_setattr(m, "__dict__", values)
    _object_setattr(m, "__pydantic_fields_set__", spec.fields_set)
    _object_setattr(m, "__pydantic_extra__", None)
    _object_setattr(m, "__pydantic_private__", None)
    return m
