"""An upload endpoint on 127.0.0.1 that keeps what twine sends (PyPI's legacy upload API).

PyPI itself cannot run here; what the release workflow's PyPI job hands it can be checked: the
multipart form twine posts, with each file's bytes and the ``attestations`` field PyPI verifies.
"""

from __future__ import annotations

import email.parser
import email.policy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Upload:
    fields: dict[str, str]
    filename: str
    content: bytes


@dataclass
class UploadIndex:
    url: str
    uploads: list[Upload] = field(default_factory=list)


def _parse(content_type: str, body: bytes) -> Upload:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    fields: dict[str, str] = {}
    filename, content = "", b""
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(name, str) and isinstance(payload, bytes)
        if name == "content":
            filename, content = str(part.get_filename()), payload
        else:
            fields[name] = payload.decode("utf-8")
    return Upload(fields=fields, filename=filename, content=content)


@contextmanager
def upload_index() -> Iterator[UploadIndex]:
    index = UploadIndex(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            index.uploads.append(_parse(self.headers["Content-Type"], body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    index.url = f"http://127.0.0.1:{server.server_address[1]}/legacy/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield index
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
