"""`response_format` / `structured_outputs` on the wire -> one internal `Constraint`."""

from __future__ import annotations

import json
from typing import Any

from openmini.decoding.constraint import Constraint
from openmini.errors import InvalidRequest
from openmini.server.schemas import ResponseFormat, StructuredOutputs


def constraint_of(response_format: ResponseFormat | None,
                  structured: StructuredOutputs | None) -> Constraint | None:
    wants_format = response_format is not None and response_format.type != "text"
    if wants_format and structured is not None:
        raise InvalidRequest("Give either 'response_format' or 'structured_outputs', not both.",
                             param="structured_outputs")
    if structured is not None:
        return _structured(structured)
    if response_format is not None:
        return _response_format(response_format)
    return None


def _response_format(fmt: ResponseFormat) -> Constraint | None:
    if fmt.type == "text":
        if fmt.json_schema is not None:
            raise InvalidRequest("'json_schema' is only allowed with type 'json_schema'.",
                                 param="response_format.json_schema")
        return None
    if fmt.type == "json_object":
        return Constraint.json_object("response_format")
    if fmt.json_schema is None or fmt.json_schema.json_schema is None:
        raise InvalidRequest("response_format of type 'json_schema' needs 'json_schema.schema'.",
                             param="response_format.json_schema.schema")
    param = "response_format.json_schema.schema"
    return Constraint.json_schema(checked_schema(fmt.json_schema.json_schema, param), param)


def _structured(so: StructuredOutputs) -> Constraint:
    given = {k: v for k, v in (("json", so.json_spec), ("regex", so.regex),
                               ("choice", so.choice), ("grammar", so.grammar)) if v is not None}
    if len(given) != 1:
        raise InvalidRequest("'structured_outputs' takes exactly one of json, regex, choice, "
                             f"grammar (got {', '.join(given) or 'none'}).",
                             param="structured_outputs")
    (kind, value), = given.items()
    param = f"structured_outputs.{kind}"
    if kind == "json":
        schema = _parse_json(value, param) if isinstance(value, str) else value
        return Constraint.json_schema(checked_schema(schema, param), param)
    if kind == "choice":
        return Constraint.choice(list(value), param)
    text = str(value)
    return Constraint.regex(text, param) if kind == "regex" else Constraint.grammar(text, param)


def _parse_json(text: str, param: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"Invalid JSON schema text: {exc}", param=param) from exc


def checked_schema(schema: Any, param: str) -> Any:
    """The schema itself must be a valid JSON Schema (checked against its meta-schema)."""
    from jsonschema import SchemaError, validators

    if not isinstance(schema, dict | bool):
        raise InvalidRequest("A JSON schema must be an object.", param=param)
    try:
        validators.validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        raise InvalidRequest(f"Invalid JSON schema{f' at {where}' if where else ''}: "
                             f"{exc.message}", param=param) from exc
    return schema
