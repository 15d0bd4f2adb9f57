"""A real smart-HTTP git server on 127.0.0.1 that wants a user name and token (Basic auth).

``git_http`` yields a :class:`GitHttp`: put bare repositories under ``.base``
and reach them as ``.url(name)`` (``http://USER:TOKEN@127.0.0.1:PORT/name``,
the form a playbook may hold). Every request is served by git's own
``git http-backend`` (CGI); one without the right credentials gets 401, as a
forge answers. The token is generated when the fixture starts; the server
runs in a thread of the test process and is shut down by the fixture.
"""

from __future__ import annotations

import base64
import random
import subprocess
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sanitize.git import git_env


@dataclass
class GitHttp:
    """A running server: where its repositories live, its port and the one account it accepts."""

    base: Path
    port: int
    user: str
    token: str
    refused: list[str] = field(default_factory=list)  # paths asked for without valid credentials

    def url(self, name: str) -> str:
        """The address with credentials in it, as a playbook or a command line may carry it."""
        return f"http://{self.user}:{self.token}@127.0.0.1:{self.port}/{name}"

    def bare_url(self, name: str) -> str:
        """The address without credentials."""
        return f"http://127.0.0.1:{self.port}/{name}"


def _handler(server: GitHttp) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(f"{server.user}:{server.token}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _serve(self) -> None:
            path, _, query = self.path.partition("?")
            body = self._body()
            if self.headers.get("Authorization") != expected:
                server.refused.append(path)
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            env = {**git_env(), "GIT_PROJECT_ROOT": str(server.base), "GIT_HTTP_EXPORT_ALL": "1",
                   "PATH_INFO": urllib.parse.unquote(path), "QUERY_STRING": query, "REQUEST_METHOD": self.command,
                   "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
                   "REMOTE_USER": server.user, "REMOTE_ADDR": "127.0.0.1"}
            if self.headers.get("Content-Encoding"):
                env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
            if self.headers.get("Git-Protocol"):
                env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
            proc = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, check=False)
            head, _, payload = proc.stdout.partition(b"\r\n\r\n")
            if not _:
                head, _, payload = proc.stdout.partition(b"\n\n")
            headers = [line.split(b":", 1) for line in head.splitlines() if b":" in line]
            status = next((int(v.split()[0]) for k, v in headers if k.strip().lower() == b"status"), 200)
            self.send_response(status)
            for k, v in headers:
                if k.strip().lower() != b"status":
                    self.send_header(k.strip().decode("latin-1"), v.strip().decode("latin-1"))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@pytest.fixture
def git_http(tmp_path: Path) -> Iterator[GitHttp]:
    """Serve ``tmp_path/http`` over smart HTTP (fetch and push, Basic auth) for the test's duration."""
    base = tmp_path / "http"
    base.mkdir()
    rng = random.Random(f"git-http:{tmp_path.name}")
    token = "tok_" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
                             for _ in range(32))
    server = GitHttp(base=base, port=0, user="purge-bot", token=token)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
