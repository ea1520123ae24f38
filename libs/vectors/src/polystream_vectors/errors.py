"""Which vector store errors mean "the engine cannot answer now" (retry it later, or answer 503),
as opposed to "this request is wrong": the embedder retries the first kind with backoff, and
recsys-api answers them with a 503."""

from __future__ import annotations

import grpc
from pymilvus.exceptions import ErrorCode, MilvusException, MilvusUnavailableException
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

GRPC_UNAVAILABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
    }
)
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    ResponseHandlingException,  # qdrant-client: the request never got an answer
    MilvusUnavailableException,
)
"""Driver errors that always mean "the server is not answering now"."""


def is_unavailable(exc: BaseException) -> bool:
    """True when a vector store error means "unavailable now, retry", not "this request fails"."""
    if isinstance(exc, UNAVAILABLE_ERRORS):
        return True
    if isinstance(exc, grpc.RpcError):  # grpc.aio.AioRpcError is one
        code = getattr(exc, "code", None)
        return callable(code) and code() in GRPC_UNAVAILABLE
    if isinstance(exc, MilvusException):
        # pymilvus classifies its own errors: a server that is not serving yet, or rate limits.
        return bool(exc.retriable or exc.code == ErrorCode.RATE_LIMIT)
    if isinstance(exc, UnexpectedResponse):
        return exc.status_code in (429, 502, 503, 504)
    return False
