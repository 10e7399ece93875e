"""Below marshmallow's public API: a valid body loads through a plan of the schema's own
fields instead of `Schema.load`, and a field's validators are combined once, not per value.

Why: marshmallow's per-load machinery (an error store, a closure per field, hook lookups, an
`And` of the validators built for every value) profiled as most of loading an event body.
Measured (`bench/compare.py` against `Schema.load`, 8 rounds of 4 s): 0.851 of its CPU per
ingest request (0.803-1.124), about 15% less; one event body 16 µs against 52 µs. An invalid
body costs more (the plan's attempt, then marshmallow's `load` for the error wording): about
118 µs against 51, while 422s are rare. A field of ours may also judge its usual values in one
call of its own (`load_usual`: Text, Status, UtcDateTime) before its `_deserialize` and
validators do: an event body 59k -> 36k instructions (callgrind), the plan's included.

What it relies on, private in marshmallow: `Schema._hooks` (tag -> (name, pass_collection,
options)), `Field._deserialize(value, attr, data)`, the property `Field._validate_all`, and
`Field.deserialize` being missing/None/`_deserialize`/validators/post_load in that order.
Checked by `tests/test_schemas.py` (every API schema loads every body as `Schema.load` does,
and those shapes) on the marshmallow of `CHECKED_WITH`: re-run it before raising the pin.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, missing, validate


class ValidatorsOnce(fields.Field):
    """marshmallow builds an And() of a field's validators for every value it checks; here
    it is built once per field."""

    @functools.cached_property
    def _validate_all(self) -> Callable[[Any], None]:  # type: ignore[override]
        return validate.And(*self.validators)


class PlannedLoad(Schema):
    """A schema whose valid bodies load through its `LoadPlan`; anything else, and every
    error, through marshmallow's own `load`."""

    @functools.cached_property
    def _load_plan(self) -> LoadPlan | None:
        return LoadPlan.of(self)

    def load(self, data: Any, *, many: bool | None = None, partial: Any = None,
             unknown: str | None = None) -> Any:
        plan = self._load_plan
        if plan is not None and many is None and partial is None and unknown is None:
            loaded = plan.load(data)
            if loaded is not None:
                return loaded
        return super().load(data, many=many, partial=partial, unknown=unknown)


class LoadPlan:
    """`schema.load` for the valid case, planned once from a schema's own fields.

    Each field still converts and validates a value with its own code (`_deserialize`, its
    validators); what the plan leaves out is marshmallow's machinery around them. The plan
    answers only a dict with known keys that every field accepts; for anything else it
    answers None and marshmallow loads the data again, so each error keeps its wording.
    Only simple schemas have a plan (`of`).
    """

    def __init__(self, schema: Schema, post_load: list[Callable[..., Any]]) -> None:
        self._plan = [
            (field.data_key or name, field.attribute or name, field, usual_loader(field),
             _planned_list(field) or field._deserialize, field.required, field.allow_none,
             field._validate_all if field.validators else None)
            for name, field in schema.load_fields.items()
        ]
        self._keys = frozenset(key for key, *_ in self._plan)
        self._post_load = post_load

    @classmethod
    def of(cls, schema: Schema) -> LoadPlan | None:
        """The plan of `schema`, or None when it uses what the plan does not do: `many`,
        `partial`, unknown fields other than RAISE, hooks other than plain post_load
        ones, field-level pre/post_load functions, dotted attributes."""
        if schema.many or schema.partial or schema.unknown != RAISE:
            return None
        post_load = []
        for tag, hooks in schema._hooks.items():
            for name, pass_collection, options in hooks:
                if tag != "post_load" or pass_collection or options.get("pass_original"):
                    return None
                post_load.append(getattr(schema, name))
        for field in schema.load_fields.values():
            if field.pre_load or field.post_load or "." in (field.attribute or ""):
                return None
        return cls(schema, post_load)

    def load(self, data: Any) -> dict[str, Any] | None:
        """What `Field.deserialize` does for each field, minus raising: None instead."""
        if type(data) is not dict or not self._keys.issuperset(data):
            return None
        loaded = {}
        try:
            for key, attribute, field, usual, deserialize, required, allow_none, \
                    validate_all in self._plan:
                value = data.get(key, missing)
                if value is missing:
                    if required:
                        return None
                    value = field.load_default
                    if callable(value):
                        value = value()
                    if value is missing:
                        continue
                elif value is None:
                    if not allow_none:
                        return None
                else:
                    as_usual = usual(value) if usual is not None else None
                    if as_usual is None:
                        as_usual = deserialize(value, key, data)
                        if validate_all is not None:
                            validate_all(as_usual)
                    value = as_usual
                loaded[attribute] = value
            for hook in self._post_load:
                loaded = hook(loaded, many=False, partial=None, unknown=RAISE)
        except ValidationError:
            return None
        return loaded


def usual_loader(field: fields.Field) -> Callable[[Any], Any] | None:
    """The field's own shortcut for its usual values, `load_usual(value)`: the value
    `deserialize` loads when the field and its validators accept it, else None (then the
    field's `_deserialize` and validators judge it). None when the field has none, or when a
    subclass below the one that defines it deserializes in its own way."""
    for klass in type(field).__mro__:
        if "load_usual" in vars(klass):
            return field.load_usual  # type: ignore[attr-defined, no-any-return]
        if "_deserialize" in vars(klass):
            return None
    return None


def _planned_list(field: fields.Field) -> Callable[[Any, str, Any], list[Any]] | None:
    """A list of nested records (a batch's events) loaded item by item through the nested
    schema's own plan, without marshmallow's per-item field machinery; None for any other
    field. An item the plan does not answer makes the whole body go through `Schema.load`."""
    if not isinstance(field, fields.List):
        return None
    inner = field.inner
    if (not isinstance(inner, fields.Nested) or inner.many or inner.validators
            or inner.unknown is not None or inner.pre_load or inner.post_load):
        return None
    schema = inner.schema
    plan = schema._load_plan if isinstance(schema, PlannedLoad) else None
    if plan is None:
        return None

    def deserialize(value: Any, key: str, data: Any) -> list[Any]:
        if type(value) is not list:
            raise ValidationError("not a list")
        loaded = []
        for item in value:
            one = plan.load(item)
            if one is None:
                raise ValidationError("an item the plan does not answer")
            loaded.append(one)
        return loaded

    return deserialize
