"""The API documentation: /docs (Swagger UI) and /redoc, served by wagate itself so they work
with no internet, over an OpenAPI document that says what each route does, shows a real body,
names the `apikey` header, and lists the errors the server really answers (400, not 422).

The pages' scripts and styles come from the fastapi-offline package (installed with wagate),
never from a CDN. Each operation's text and examples are in api/operations.py.
"""

from __future__ import annotations

import copy
from functools import cache
from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, Response

from wagate.api.operations import OPERATIONS, PUBLIC, TAGS

ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
ASSET_PREFIX = "/docs/assets"
ERROR_SCHEMA = "ErrorEnvelope"
ERRORS = {
    "400": (
        "The request is invalid: a missing or mistyped field, or an instance that is not "
        "connected. `response.message` lists what is wrong.",
        ['instance requires property "number"'],
    ),
    "401": ("The `apikey` header is missing or opens nothing here.", "Unauthorized"),
    "403": ("The name is already in use.", ['This name "my-instance" is already in use.']),
    "503": (
        "WhatsApp cannot be reached from the server (DNS, connection refused, proxy): the "
        "message names the cause; `lifecycle` carries it with `action: check_network`. The "
        "instance keeps retrying with backoff.",
        ["No route to WhatsApp: DNS lookup failed (lookup web.whatsapp.com: no such host)."],
    ),
    "404": (
        "The instance (or the resource) does not exist.",
        ['The "my-instance" instance does not exist'],
    ),
}
SHAPED = {"type", "$ref", "properties", "items", "anyOf", "oneOf", "allOf"}
"""Keys that make a response schema say something (FastAPI gives `Any` only a title)."""
PHRASES = {
    "400": "Bad Request",
    "401": "Unauthorized",
    "403": "Forbidden",
    "404": "Not Found",
    "503": "Service Unavailable",
}


@cache
def _asset(name: str) -> bytes:
    return resources.files("fastapi_offline").joinpath("static", name).read_bytes()


def install(app: FastAPI) -> None:
    """Serve /docs, /redoc and their assets; replace app.openapi with the documented one."""
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{ASSET_PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSET_PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{ASSET_PREFIX}/favicon.png",
            swagger_ui_parameters={
                "persistAuthorization": True,
                "displayRequestDuration": True,
                "tryItOutEnabled": False,
                "docExpansion": "none",
                "filter": True,
            },
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            redoc_js_url=f"{ASSET_PREFIX}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSET_PREFIX}/favicon.png",
            with_google_fonts=False,
        )

    @app.get(ASSET_PREFIX + "/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        if name not in ASSETS:
            return Response(status_code=404)
        return Response(
            _asset(name),
            media_type=ASSETS[name],
            headers={"cache-control": "public, max-age=86400"},
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=TAGS,
            )
            app.openapi_schema = document(spec)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def document(spec: dict[str, Any]) -> dict[str, Any]:
    """The generated spec with the security scheme, texts, examples and real error codes."""
    spec = copy.deepcopy(spec)
    components = spec.setdefault("components", {})
    components.setdefault("securitySchemes", {})["apikey"] = {
        "type": "apiKey",
        "in": "header",
        "name": "apikey",
        "description": (
            "The global key (AUTHENTICATION_API_KEY, or the one wagate generated and saved in "
            "./data/api-key), or an instance's token for that instance's routes."
        ),
    }
    schemas = components.setdefault("schemas", {})
    for drop in ("HTTPValidationError", "ValidationError"):
        schemas.pop(drop, None)
    schemas[ERROR_SCHEMA] = {
        "type": "object",
        "description": "Evolution's error envelope, for every failure.",
        "required": ["status", "error", "response"],
        "properties": {
            "status": {"type": "integer", "example": 400},
            "error": {"type": "string", "example": "Bad Request"},
            "response": {
                "type": "object",
                "properties": {"message": {"description": "a string, or a list of messages"}},
            },
        },
    }
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            key = f"{method.upper()} {path}"
            _describe(op, key)
            _secure(op, key)
            _errors(op, path, key)
    return spec


def _describe(op: dict[str, Any], key: str) -> None:
    if not op.get("tags"):
        op["tags"] = ["server"]
    doc = OPERATIONS.get(key)
    if doc is None:
        return
    op["summary"] = doc.summary
    own = op.get("description")
    op["description"] = doc.description + (
        f"\n\n{own}" if own and own not in doc.description else ""
    )
    if doc.body is not None:
        body = op.setdefault(
            "requestBody",
            {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
        )
        body.setdefault("content", {}).setdefault(
            "application/json", {"schema": {"type": "object"}}
        )["example"] = doc.body
    if doc.reply is not None:
        for code, response in op.get("responses", {}).items():
            if code.startswith("2"):
                content = response.setdefault("content", {}).setdefault("application/json", {})
                if not SHAPED & set(
                    content.get("schema") or {}
                ):  # a plain dict or Any: say its shape
                    content["schema"] = schema_of(doc.reply)
                content["example"] = doc.reply
                break


def _secure(op: dict[str, Any], key: str) -> None:
    op["security"] = [] if key in PUBLIC else [{"apikey": []}]


def _errors(op: dict[str, Any], path: str, key: str) -> None:
    responses: dict[str, Any] = op.setdefault("responses", {})
    responses.pop("422", None)
    codes = []
    if op.get("parameters") or op.get("requestBody"):
        codes.append("400")
    if key not in PUBLIC:
        codes.append("401")
    if key == "POST /instance/create":
        codes.append("403")
    if "{instanceName}" in path or "{instance}" in path:
        codes.append("404")
    if key == "GET /instance/connect/{instanceName}":
        codes.append("503")
    for code in codes:
        text, message = ERRORS[code]
        responses.setdefault(
            code,
            {
                "description": text,
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"},
                        "example": {
                            "status": int(code),
                            "error": PHRASES[code],
                            "response": {"message": message},
                        },
                    }
                },
            },
        )


def schema_of(value: Any) -> dict[str, Any]:
    """The shape of an example answer: its keys and value types, each also allowing null (a
    field the example fills may be empty in another answer); objects may carry more keys."""
    if value is None:
        return {}
    if isinstance(value, list):
        return {"type": "array", "items": schema_of(value[0]) if value else {}}
    if isinstance(value, dict):
        return {"type": "object", "properties": {k: schema_of(v) for k, v in value.items()}}
    kind = {bool: "boolean", int: "integer", float: "number", str: "string"}.get(type(value))
    return {"type": [kind, "null"]} if kind else {}
