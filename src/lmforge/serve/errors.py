"""Errors in OpenAI's JSON shape, with the status a client's retry logic expects.

    {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}

Every failure a client can see goes through `APIError`; anything else is caught by the app's
last-resort handler and becomes a 500 with a request id, never a stack trace.
"""

from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import JSONResponse

TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    503: "service_unavailable",
}


@dataclass(slots=True)
class APIError(Exception):
    status: int
    message: str
    param: str | None = None
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": TYPES.get(self.status, "invalid_request_error"),
                "param": self.param,
                "code": self.code,
            }
        }

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)

    def __str__(self) -> str:
        return f"{self.status} {self.message}"


def context_length_error(limit: int, prompt: int, completion: int) -> APIError:
    """400 naming both numbers, worded like OpenAI's own message so client code that parses it
    (and people who know it) recognise it."""
    return APIError(
        400,
        f"This model's maximum context length is {limit} tokens. However, you requested "
        f"{prompt + completion} tokens ({prompt} in the prompt, {completion} in the completion). "
        "Please reduce the length of the prompt or max_tokens.",
        param="max_tokens",
        code="context_length_exceeded",
    )
