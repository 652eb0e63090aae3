"""ASGI guards of the viewer's server: loopback ``Host`` headers only, bounded request bodies.

``Host`` is parsed as RFC 3986 writes it (``[::1]:8000`` is the IPv6 loopback), so a server
on ``::1`` answers its own URL, while a DNS-rebinding page (``Host: attacker.example``) is
refused. Bodies above :data:`~silentscope.viewer.bodies.MAX_BODY_BYTES` are refused with
413, by their ``Content-Length`` before anything is read, or as soon as a body sent without
one grows past the limit.
"""

from __future__ import annotations

from starlette.responses import JSONResponse, PlainTextResponse


class BodyTooLarge(Exception):
    """A request body grew past the limit while it was read."""


def host_name(header: str) -> str:
    """The host of a ``Host`` header, without port or IPv6 brackets.

    Examples
    --------
    >>> host_name("[::1]:8000"), host_name("127.0.0.1:80"), host_name("localhost")
    ('::1', '127.0.0.1', 'localhost')
    >>> host_name("[::1"), host_name("::1")
    ('', '')
    """
    if header.startswith("["):
        end = header.find("]")
        rest = header[end + 1 :]
        if end < 0 or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return ""
        return header[1:end]
    name, colon, port = header.partition(":")
    if colon and not port.isdigit():
        return ""  # a bare IPv6 address or a malformed port
    return name


class HostGuard:
    """Refuses requests whose ``Host`` is not one of ``allowed`` (``"*"`` allows any)."""

    def __init__(self, app, allowed):
        self.app = app
        self.allowed = {name.strip("[]").lower() for name in allowed}

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket") and "*" not in self.allowed:
            headers = dict(scope.get("headers") or [])
            name = host_name(headers.get(b"host", b"").decode("latin-1")).lower()
            if name not in self.allowed:
                return await PlainTextResponse("Invalid host header", status_code=400)(
                    scope, receive, send
                )
        return await self.app(scope, receive, send)


class BodyLimit:
    """Refuses request bodies above ``max_bytes`` (HTTP 413) without holding more of them."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = int(max_bytes)

    def _refusal(self):
        return JSONResponse(
            {
                "error": f"the request body is larger than the viewer accepts ({self.max_bytes:,} bytes)"
            },
            status_code=413,
        )

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return await self._refusal()(scope, receive, send)
        seen = 0

        async def bounded():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge
            return message

        started = False

        async def watched(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            return await self.app(scope, bounded, watched)
        except BodyTooLarge:
            if not started:
                return await self._refusal()(scope, receive, send)
            raise


__all__ = ["BodyLimit", "BodyTooLarge", "HostGuard", "host_name"]
