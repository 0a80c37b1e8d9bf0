"""``listening-test serve DIR [--port N]``: a small local server for in-lab tests.

Serves ``DIR/page`` (the page and its audio) and takes each listener's answers at ``POST /submit``:
checked against ``DIR/key.csv`` and stored as ``DIR/answers/<listener>.json``. A malformed submission
is refused with 400, a second one from the same listener with 409, and nothing is lost when two
listeners submit at once: each answer is written to a temporary file and linked into place, which
fails instead of overwriting when the name is taken.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from deepperformer.core.errors import DeepPerformerError
from deepperformer.listening.build import read_key

MAX_BYTES = 2_000_000


class AnswerError(ValueError):
    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


def store_answer(test_dir: Path, body: bytes, key: dict[str, dict]) -> Path:
    """Check one submission and store it; -> its path. Raises AnswerError (400 malformed, 409 duplicate)."""
    try:
        data = json.loads(body)
        listener = str(data["listener"]).strip()
        ratings = data["ratings"]
        if not listener or not isinstance(ratings, list) or not ratings:
            raise ValueError("listener and a non-empty list of ratings expected")
        for r in ratings:
            if r["file"] not in key:
                raise ValueError(f"unknown file {r['file']!r}")
            float(r["score"])
    except (ValueError, KeyError, TypeError) as e:
        raise AnswerError(HTTPStatus.BAD_REQUEST, f"malformed answers: {e}") from None
    answers = Path(test_dir) / "answers"
    answers.mkdir(exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", listener)[:80] or "listener"
    final = answers / f"{safe}.json"
    fd, tmp = tempfile.mkstemp(dir=answers, prefix=".incoming-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, final)  # atomic, and refuses to replace: the first submission wins
        except FileExistsError:
            raise AnswerError(HTTPStatus.CONFLICT, f"listener {listener!r} has already submitted") from None
    finally:
        os.unlink(tmp)
    return final


def make_server(test_dir: Path, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    test_dir = Path(test_dir)
    page = test_dir / "page"
    if not (page / "index.html").is_file():
        raise DeepPerformerError(test_dir, "no page/index.html: not a folder that `listening-test build` wrote")
    key = read_key(test_dir / "key.csv")

    class Handler(SimpleHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 -- http.server's naming
            if self.path.rstrip("/").split("?")[0] not in ("/submit", "submit"):
                return self._reply(HTTPStatus.NOT_FOUND, "only /submit takes answers")
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BYTES:
                return self._reply(HTTPStatus.BAD_REQUEST, "malformed answers: empty or too large")
            try:
                path = store_answer(test_dir, self.rfile.read(length), key)
            except AnswerError as e:
                return self._reply(e.status, str(e))
            return self._reply(HTTPStatus.OK, f"stored {path.name}")

        def _reply(self, status: HTTPStatus, text: str):
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # one short line per request
            print(f"{self.address_string()} {format % args}")

    return ThreadingHTTPServer((host, port), partial(Handler, directory=str(page)))
