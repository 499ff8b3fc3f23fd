"""Replies of the loopback HTTP servers the download tests run (real servers; urllib is not mocked)."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler


def send_body(handler: BaseHTTPRequestHandler, body: bytes, start: int | None, cut: bool = False) -> None:
    """Answer with ``body`` from byte ``start`` (206 with Content-Range; None: the whole body, 200).

    ``cut``: send only the first half and close the connection, a transfer dropped midway.
    """
    if start is None:
        start = 0
        handler.send_response(200)
    else:
        handler.send_response(206)
        handler.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
    chunk = body[start:]
    handler.send_header("Content-Length", str(len(chunk)))
    handler.end_headers()
    if cut:
        handler.wfile.write(chunk[: len(chunk) // 2])
        handler.wfile.flush()
        handler.close_connection = True
        return
    handler.wfile.write(chunk)
