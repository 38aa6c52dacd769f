"""`pocketecg serve`: the phone app (static site) and `POST /api/predict` for clients that send files.

The page classifies on the device and never uploads the ECG; the API exists for other clients (scripts,
native apps without a model). Both use the same ONNX file, so they give the same probabilities.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import mimetypes
import os
import socket
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect

from pocketecg import labels as L
from pocketecg.app.site import MODEL_NAME, build_site
from pocketecg.data.record import RecordError
from pocketecg.data.scan import ReadOptions, read_record
from pocketecg.export import read_metadata
from pocketecg.predict import Predictor

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # a 60-s 12-lead record is under 3 MB in any supported format
MAX_FILES = 8
# Records in work at once: each may hold up to ~0.4 GiB at the bounds of pocketecg.data.record (30 min,
# 12 x 4M values, float64 while filtering), so this caps the server's working memory (docs/app.md).
MAX_IN_FLIGHT = max(1, min(4, os.cpu_count() or 1))
IN_FLIGHT = threading.BoundedSemaphore(MAX_IN_FLIGHT)
BUSY_WAIT_SECONDS = 30.0
# A client that stops sending (or trickles bytes to hold a connection) is cut off: no chunk for
# UPLOAD_IDLE_SECONDS, or the whole body not in after UPLOAD_SECONDS (20 MiB at 2 Mbit/s takes ~80 s).
UPLOAD_SECONDS = 120.0
UPLOAD_IDLE_SECONDS = 20.0
MAX_NAME_BYTES = 200  # below every file system's 255-byte limit, with room for our temporary folder's names
RECORD_SUFFIXES = {".hea", ".dat", ".mat", ".csv", ".txt", ".npy", ".xml", ".scp", ".dcm", ".dicom", ".edf"}
log = logging.getLogger("pocketecg.serve")

for _type, _suffix in (("text/javascript", ".mjs"), ("application/wasm", ".wasm"),
                       ("application/manifest+json", ".webmanifest")):
    mimetypes.add_type(_type, _suffix)  # not every system's mime table knows these


@dataclass
class ApiError(Exception):
    status: int
    message: str
    close: bool = False  # the request body was not read to its end: the connection cannot be reused


def _upload_name(raw: str | None) -> str:
    """The uploaded file's base name; anything that is not a plain file name is refused."""
    name = PurePosixPath((raw or "").replace("\\", "/")).name
    if not name or name.startswith("."):
        raise ApiError(400, f"upload has no usable file name ({raw!r})")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise ApiError(400, f"{name[:40]}...: file name too long ({len(name.encode())} bytes, at most {MAX_NAME_BYTES})")
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in RECORD_SUFFIXES:
        raise ApiError(415, f"{name}: unsupported file type {suffix or '(none)'!r} "
                       f"(expected {', '.join(sorted(RECORD_SUFFIXES))})")
    return name


def main_file(names: list[str]) -> str:
    """Which upload is the record: its .hea for WFDB, else the single other file."""
    headers = [n for n in names if n.lower().endswith(".hea")]
    if len(headers) > 1:
        raise ApiError(400, f"one record per request: got {len(headers)} headers ({', '.join(headers)})")
    if headers:
        return headers[0]
    others = [n for n in names if not n.lower().endswith(".dat")]
    if not others:
        raise ApiError(422, f"{names[0]}: WFDB signal file without its .hea header")
    if len(others) > 1:
        raise ApiError(400, f"one record per request: got {', '.join(others)}")
    return others[0]


def predict_uploads(predictor: Predictor, files: list[tuple[str, bytes]], options: ReadOptions) -> dict:
    """Write the uploads to a private temporary folder, read the record as `pocketecg predict` would, classify."""
    if not files:
        raise ApiError(400, "no file uploaded (send the record as multipart form field 'file')")
    names = [n for n, _ in files]
    if len(set(names)) != len(names):
        raise ApiError(400, "the same file name was uploaded twice")
    main = main_file(names)
    if not IN_FLIGHT.acquire(timeout=BUSY_WAIT_SECONDS):
        raise ApiError(503, f"{main}: the server is busy ({MAX_IN_FLIGHT} records in work); retry in a moment")
    try:
        with tempfile.TemporaryDirectory(prefix="pocketecg-upload-") as tmp:
            for name, data in files:
                (Path(tmp) / name).write_bytes(data)
            try:
                record = read_record(Path(tmp) / main, options)
                result = predictor.predict_record(record, name=main)
            except RecordError as exc:  # name the file as the client knows it, not our temporary path
                raise ApiError(422, str(exc).replace(f"{tmp}/", "")) from None
            except Exception as exc:
                # handled here, not by Starlette's last-resort handler, which re-raises and makes the server
                # drop the keep-alive connection: the client's next request on it would fail
                log.exception("unexpected error on %s", main)
                raise ApiError(500, f"{main}: internal error ({exc.__class__.__name__}); see the server log") from None
    finally:
        IN_FLIGHT.release()
    out = result.to_dict()
    out.pop("window_probabilities")  # the same object as `pocketecg predict --json`
    return out


async def read_body(request: Request, limit: int, seconds: float = UPLOAD_SECONDS,
                    idle_seconds: float = UPLOAD_IDLE_SECONDS) -> bytes:
    """The request body, refused with 413 as soon as it passes `limit` (whatever Content-Length claims) and
    with 408 when it stalls for `idle_seconds` or is not complete after `seconds`."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"upload too large: {int(declared) / 2**20:.1f} MiB (limit {limit / 2**20:.0f} MiB)",
                       close=True)
    body = bytearray()
    chunks = request.stream().__aiter__()
    deadline = time.monotonic() + seconds
    while True:
        wait = min(idle_seconds, deadline - time.monotonic())
        try:
            chunk = await asyncio.wait_for(chunks.__anext__(), timeout=max(wait, 0.0))
        except StopAsyncIteration:
            return bytes(body)
        except (TimeoutError, asyncio.TimeoutError):
            stalled = time.monotonic() < deadline
            reason = f"no data for {idle_seconds:g} s" if stalled else f"not complete after {seconds:g} s"
            log.info("upload from %s timed out after %d bytes (%s)", _peer(request), len(body), reason)
            raise ApiError(408, f"upload timed out: {reason} ({len(body)} bytes received)", close=True) from None
        except ClientDisconnect:
            # one line, not the two tracebacks Starlette and uvicorn would log; nobody is left to answer
            log.info("upload from %s aborted by the client after %d bytes", _peer(request), len(body))
            raise ApiError(400, "upload aborted by the client", close=True) from None
        body += chunk
        if len(body) > limit:
            raise ApiError(413, f"upload too large (limit {limit / 2**20:.0f} MiB)", close=True)


def _peer(request: Request) -> str:
    return f"{request.client.host}:{request.client.port}" if request.client else "unknown client"


def create_app(site_dir: str | Path, model: str | Path | None = None,
               max_upload_bytes: int = MAX_UPLOAD_BYTES, upload_seconds: float = UPLOAD_SECONDS,
               upload_idle_seconds: float = UPLOAD_IDLE_SECONDS, compress: bool = True,
               examples: str | Path | None = None) -> FastAPI:
    """The app: the static site built into `site_dir` plus the API. The upload limits are per request;
    `compress=False` sends every file as stored (only to measure what compression saves)."""
    site = build_site(site_dir, model, examples)
    predictor = Predictor.from_onnx(site / MODEL_NAME)
    model_name = read_metadata(site / MODEL_NAME).get("model", "model")
    api = FastAPI(title="pocketecg", version=_version(), docs_url="/api/docs", openapi_url="/api/openapi.json")

    @api.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError):
        headers = {"Connection": "close"} if exc.close else None
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=headers)

    @api.exception_handler(RequestValidationError)
    async def bad_parameter(_: Request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return JSONResponse({"error": f"bad request parameter ({problems})"}, status_code=422)

    @api.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception):  # logged in full here, one line for the client
        log.exception("unexpected error")
        return JSONResponse({"error": f"internal error ({exc.__class__.__name__}); see the server log"}, 500)

    @api.get("/api/model")
    def model_info() -> dict:
        return {"model": model_name, "classes": list(predictor.classes),
                "thresholds": predictor.thresholds, "preprocessing": predictor.settings.to_dict(),
                "descriptions": {c: L.CLASS_DESCRIPTIONS.get(c, c) for c in predictor.classes},
                "not_assessed": L.not_assessed(predictor.classes),
                "max_upload_bytes": max_upload_bytes}

    @api.post("/api/predict")
    async def api_predict(request: Request, fs: float | None = None, units: str = "mV",
                          allow_missing_leads: bool = False) -> dict:
        """Multipart upload of one record (a .hea with its .dat/.mat, a CPSC .mat, a CSV or .npy, a clinical
        XML/SCP/DICOM/EDF export) -> findings. `fs` and `units` (uV, mV, V) are for .npy/CSV files."""
        body = await read_body(request, max_upload_bytes, upload_seconds, upload_idle_seconds)

        async def replay():
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            form = await Request(request.scope, replay).form(max_files=MAX_FILES, max_fields=MAX_FILES)
        except Exception as exc:  # starlette raises its own HTTPException/MultiPartException for bad forms
            raise ApiError(400, f"not a multipart form upload ({getattr(exc, 'detail', exc)})") from None
        uploads = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
        files = [(_upload_name(u.filename), await u.read()) for u in uploads]
        return await run_in_threadpool(predict_uploads, predictor, files,
                                       ReadOptions(fs=fs, units=units, allow_missing_leads=allow_missing_leads))

    if not compress:
        api.mount("/", StaticFiles(directory=site, html=True), name="site")
        return api
    api.mount("/", PrecompressedStaticFiles(directory=site, html=True), name="site")
    api.add_middleware(GZipMiddleware, minimum_size=1024)  # API answers and small files: compressed on the fly
    return api


def accepted_encodings(header: str) -> set[str]:
    """Content codings an Accept-Encoding header allows ("gzip, br;q=0" -> {"gzip"}); a malformed q drops the
    coding rather than guessing."""
    allowed = set()
    for part in header.split(","):
        name, *params = (field.strip() for field in part.split(";"))
        q = next((p.partition("=")[2] for p in params if p.lower().startswith("q=")), "1")
        try:
            if name and float(q) > 0:
                allowed.add(name.lower())
        except ValueError:
            continue
    return allowed


class PrecompressedStaticFiles(StaticFiles):
    """The site's files as the `.br` or `.gz` copy `build_site` wrote, whichever the client accepts (brotli
    first: the WASM runtime is 14.2 MB stored, 2.4 MB as br, 3.7 MB as gzip), compressed once at build time
    rather than on every request."""

    ENCODINGS = (("br", ".br"), ("gzip", ".gz"))

    async def get_response(self, path: str, scope):
        from starlette.datastructures import Headers

        accepts = accepted_encodings(Headers(scope=scope).get("accept-encoding", ""))
        if not path.endswith((".gz", ".br")):
            for encoding, suffix in self.ENCODINGS:
                if encoding not in accepts:
                    continue
                full_path, stat_result = self.lookup_path(path + suffix)
                if stat_result is None:
                    continue
                # file_response answers If-None-Match / If-Modified-Since with 304, as for any other file
                response = self.file_response(full_path, stat_result, scope)
                response.headers["content-type"] = mimetypes.guess_type(path)[0] or "application/octet-stream"
                response.headers["content-encoding"] = encoding
                response.headers["vary"] = "Accept-Encoding"
                return response
        return await super().get_response(path, scope)


def _version() -> str:
    from pocketecg import __version__

    return __version__


@contextlib.contextmanager
def serving(app: FastAPI, host: str = "127.0.0.1", port: int = 0, timeout: float = 30.0):
    """Run `app` in a background thread (tests, benchmarks); yields its base URL. Port 0 picks a free one."""
    import threading
    import time

    import uvicorn

    if port == 0:
        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the app did not start on {host}:{port}")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}/"
    finally:
        server.should_exit = True
        thread.join(10)


def serve(host: str = "127.0.0.1", port: int = 8000, model: str | Path | None = None,
          certfile: str | None = None, keyfile: str | None = None, upload_seconds: float = UPLOAD_SECONDS,
          upload_idle_seconds: float = UPLOAD_IDLE_SECONDS, examples: str | Path | None = None) -> None:
    import uvicorn

    with tempfile.TemporaryDirectory(prefix="pocketecg-site-") as site:
        app = create_app(site, model, upload_seconds=upload_seconds, upload_idle_seconds=upload_idle_seconds,
                         examples=examples)
        uvicorn.run(app, host=host, port=port, ssl_certfile=certfile, ssl_keyfile=keyfile, log_level="info",
                    log_config=log_config())


def log_config() -> dict:
    """uvicorn's logging set-up, with this module's lines (timeouts, aborts, internal errors) beside its own."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["pocketecg"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config
