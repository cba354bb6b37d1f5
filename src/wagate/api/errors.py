"""Evolution's error envelope, {status, error, response: {message}}, for every failure."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from wagate.api.json import JSONResponse
from wagate.domain.errors import WagateError

_log = structlog.get_logger("wagate.api")


def envelope(status: int, message: Any) -> JSONResponse:
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return JSONResponse(
        {"status": status, "error": phrase, "response": {"message": message}}, status_code=status
    )


def answer(request: Request, status: int, message: Any) -> JSONResponse:
    """The envelope, also reported to the error webhook when it is configured."""
    response = envelope(status, message)
    hook = getattr(request.app.state, "error_webhook", None)
    if hook is not None:
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
        hook.report(status, phrase, message)
    return response


def _messages(exc: WagateError) -> Any:
    if exc.status == 401 and not exc.messages:
        return "Unauthorized"
    return exc.messages


def _schema_message(err: dict[str, Any]) -> str:
    """A pydantic error phrased like Evolution's jsonschema messages."""
    loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
    field = ".".join(loc)
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind == "missing":
        parent = ".".join(loc[:-1])
        return (
            f'{parent or "instance"} requires property "{loc[-1]}"' if loc else "body is required"
        )
    types = {
        "bool_type": "boolean",
        "bool_parsing": "boolean",
        "string_type": "string",
        "int_type": "integer",
        "int_parsing": "integer",
        "int_from_float": "integer",
        "float_type": "number",
        "float_parsing": "number",
        "list_type": "array",
        "dict_type": "object",
        "model_type": "object",
        "model_attributes_type": "object",
    }
    if kind in types:
        return f"{field or 'body'} is not of a type(s) {types[kind]}"
    if kind in ("literal_error", "enum"):
        expected = ctx.get("expected", "")
        values = ",".join(
            v.strip().strip("'") for v in str(expected).replace(" or ", ",").split(",")
        )
        return f"{field} is not one of enum values: {values}"
    if kind == "string_pattern_mismatch":
        return f"{field} does not match pattern {json.dumps(str(ctx.get('pattern', '')))}"
    if kind == "string_too_long":
        return f"{field} does not meet maximum length of {ctx.get('max_length')}"
    if kind == "greater_than_equal":
        return f"{field} must be greater than or equal to {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"{field} must be less than or equal to {ctx.get('le')}"
    if kind == "json_invalid":
        return f"invalid JSON: {ctx.get('error', 'malformed body')}"
    return f"{field}: {err.get('msg', 'invalid')}" if field else str(err.get("msg", "invalid"))


def install(app: FastAPI) -> None:
    @app.exception_handler(WagateError)
    async def _wagate(request: Request, exc: WagateError) -> JSONResponse:
        return answer(request, exc.status, _messages(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            return answer(
                request,
                400,
                "Malformed JSON body: " + str(errors[0].get("ctx", {}).get("error", "")),
            )
        return answer(request, 400, [[_schema_message(e) for e in errors]])

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code in (404, 405):
            return answer(request, 404, [f"Cannot {request.method} {request.url.path}"])
        return answer(request, exc.status_code, [str(exc.detail)])

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        _log.error("unhandled error", path=request.url.path, error=repr(exc), exc_info=exc)
        return answer(request, 500, ["Internal error; see the server log"])
