"""The MCP server over streamable HTTP: the ASGI app at /mcp, Host/Origin checks and the bearer token."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from .settings import Settings


class _BearerAuth:
    """ASGI middleware: 401 unless `Authorization: Bearer <token>` (constant-time comparison)."""

    def __init__(self, app: Any, token: str):
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            import hmac

            headers = dict(scope.get("headers") or [])
            given = headers.get(b"authorization", b"")
            if not hmac.compare_digest(given, b"Bearer " + self.token):
                body = b'{"error": "unauthorized: send Authorization: Bearer <UPSTAGE_OCR_HTTP_TOKEN>"}'
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def http_app(server: MCPServer, settings: Settings, host: str = "127.0.0.1") -> Any:
    """The streamable HTTP ASGI app at /mcp: Host/Origin checked, bearer token required when configured."""
    from mcp.server.transport_security import TransportSecuritySettings

    security = None
    if host not in ("127.0.0.1", "localhost", "::1"):
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=[f"{host}:*", host],
            allowed_origins=[f"http://{host}:*", f"https://{host}:*"],
        )
    app = server.streamable_http_app(host=host, transport_security=security)
    return _BearerAuth(app, settings.http_token) if settings.http_token else app
