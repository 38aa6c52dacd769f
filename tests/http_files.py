"""A local HTTP server for download tests: serves a folder, with Range support and simulated drops."""

import http.server
import threading
from contextlib import contextmanager
from functools import partial
from pathlib import Path


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files with HTTP Range support; can cut a response short to simulate a dropped link."""

    cut_after: dict[str, int] = {}
    requests: list[tuple[str, str | None]] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        self.requests.append((path.name, self.headers.get("Range")))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        cut = self.cut_after.pop(path.name, None)
        self.wfile.write(body[:cut] if cut is not None else body)
        if cut is not None:
            self.wfile.flush()
            self.connection.shutdown(2)


@contextmanager
def serve_folder(folder: Path):
    """Serve `folder` on a free loopback port; yields the base URL (ending in /)."""
    RangeHandler.requests = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(RangeHandler, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
