"""The one exception the sandbox's API raises: it becomes an ErrorResponse body."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An API error answered as ``{"errorCode", "errorDescription", "data"}`` with ``status``."""

    def __init__(self, status: int, code: str, description: str, data: Any = None) -> None:
        super().__init__(f"{status} {code}: {description}")
        self.status = status
        self.code = code
        self.description = description
        self.data = data

    def body(self) -> dict[str, Any]:
        """The ErrorResponse document (spec schema ``ErrorResponse``)."""
        return {"errorCode": self.code, "errorDescription": self.description, "data": self.data}


def bad_request(description: str, data: Any = None) -> ApiError:
    """A 400 naming the offending parameter or field in ``description``."""
    return ApiError(400, "BadRequest", description, data)


def not_found(description: str) -> ApiError:
    """A 404: the resource never existed."""
    return ApiError(404, "NotFound", description)


def forbidden(description: str) -> ApiError:
    """A 403: access denied, or the resource does not exist anymore."""
    return ApiError(403, "Forbidden", description)
