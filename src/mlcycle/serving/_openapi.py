"""OpenAPI request-body schemas for the routes that read their body themselves.

The infer and `/predict` routes parse raw bytes (binary tensors, orjson),
so FastAPI cannot infer their bodies; these schemas document them (from
the OIP REST spec's `inference_request`) and let schema-driven fuzzers
such as schemathesis generate requests.
"""

from __future__ import annotations

from typing import Any

from mlcycle.serving._tensors import DATATYPES

_PARAMETERS = {"type": "object", "additionalProperties": True}
_TENSOR = {
    "type": "object",
    "required": ["name", "shape", "datatype", "data"],
    "properties": {
        "name": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "datatype": {"type": "string", "enum": sorted(DATATYPES)},
        "parameters": _PARAMETERS,
        "data": {"type": "array"},
    },
}
_INFER_REQUEST = {
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "id": {"type": "string"},
        "parameters": _PARAMETERS,
        "inputs": {"type": "array", "items": _TENSOR},
        "outputs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}, "parameters": _PARAMETERS},
            },
        },
    },
}
_RECORDS = {"type": "array", "items": {"type": "object"}}
_PREDICT_REQUEST = {
    "oneOf": [
        _RECORDS,
        {"type": "object", "required": ["records"], "properties": {"records": _RECORDS}},
        {
            "type": "object",
            "required": ["columns"],
            "properties": {
                "columns": {"type": "object", "additionalProperties": {"type": "array"}}
            },
        },
    ]
}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


#: `openapi_extra` of `POST /v2/models/{name}/infer`: an OIP inference request.
INFER_BODY = _body(_INFER_REQUEST)
#: `openapi_extra` of `POST /predict`: records, `{"records": [...]}` or `{"columns": {...}}`.
PREDICT_BODY = _body(_PREDICT_REQUEST)
