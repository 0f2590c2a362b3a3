"""python-telegram-bot's HTTP transport, minus the garbage each request leaves.

httpx binds a response's body stream to the response (``BoundAsyncStream`` refers back
to it), a reference cycle: every Bot API call left about forty objects that only the
garbage collector could free, and with hundreds of notes in flight they were a large
part of what its full collections walked (and the loop waited for). Once the body is
read and the stream closed, nothing needs that stream: the client drops it, so the
request's objects go as soon as the caller lets go of the response; a streamed response
(a file's download) drops it once closed, whether its body was read or not.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from telegram.request import HTTPXRequest


class AcyclicClient(httpx.AsyncClient):
    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        response = await super().send(request, **kwargs)
        if response.is_closed:  # read whole (not streamed): the stream is spent
            response.stream = httpx.ByteStream(b"")
        return response

    @contextlib.asynccontextmanager
    async def stream(  # httpx's, its options passed through
        self, method: str, url: httpx.URL | str, **options: Any
    ) -> AsyncIterator[httpx.Response]:
        async with super().stream(method, url, **options) as response:
            try:
                yield response
            finally:
                await response.aclose()  # (httpx's own close then finds it closed)
                response.stream = httpx.ByteStream(b"")


class AcyclicHTTPXRequest(HTTPXRequest):
    """:class:`HTTPXRequest` with an :class:`AcyclicClient`."""

    def _build_client(self) -> httpx.AsyncClient:
        return AcyclicClient(**self._client_kwargs)
