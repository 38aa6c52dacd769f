"""`pocketecg serve`: the site it builds and POST /api/predict, for good and bad uploads (no browser needed)."""

import contextlib
import hashlib
import json

import pytest
import scipy.io
from fastapi.testclient import TestClient

import ecg_files as F
from pocketecg.app import site as S
from pocketecg.app.server import create_app
from pocketecg.data import read_record
from pocketecg.predict import SHIPPED_DIR, Predictor


@pytest.fixture(scope="module")
def runtime_dir(tmp_path_factory):
    """The real onnxruntime-web files when `make web` has run; otherwise stand-ins (the API never uses them)."""
    if not S.vendor_missing():
        return S.VENDOR_DIR
    folder = tmp_path_factory.mktemp("vendor")
    for name in S.VENDOR_FILES:
        (folder / name).write_text("// stand-in: the API tests do not run the page")
    return folder


@pytest.fixture(scope="module")
def site_and_client(runtime_dir, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setattr(S, "VENDOR_DIR", runtime_dir)
    site = tmp_path_factory.mktemp("site")
    app = create_app(site, max_upload_bytes=2 * 1024 * 1024)
    mp.undo()
    with TestClient(app) as client:
        yield site, client


@pytest.fixture(scope="module")
def client(site_and_client):
    return site_and_client[1]


@pytest.fixture(scope="module")
def reference(site_and_client):
    """Python's answer for a file, from the very ONNX file the site serves."""
    return Predictor.from_onnx(site_and_client[0] / S.MODEL_NAME)


def upload(client, *paths, **params):
    files = [("file", (p.name, p.read_bytes(), "application/octet-stream")) for p in paths]
    return client.post("/api/predict", files=files, params=params)


def assert_same_as_python(response, reference, path, name):
    assert response.status_code == 200, response.text
    got = response.json()
    want = reference.predict_record(read_record(path), name).to_dict()
    want.pop("window_probabilities")
    assert got == want


def test_site_is_complete_and_serves_the_shipped_model(site_and_client):
    site, client = site_and_client
    page = client.get("/")
    assert page.status_code == 200 and "research software, not a medical device" in page.text.lower()
    worker = client.get("/sw.js").text
    assert "__VERSION__" not in worker and "__PRECACHE__" not in worker
    precache = json.loads(worker.split("const PRECACHE = ")[1].split(";\n")[0])
    for rel in precache:  # every file the service worker caches for offline use exists
        assert client.get(rel if rel != "./" else "/").status_code == 200, rel
    assert client.get("/model.onnx").content == (SHIPPED_DIR / "model.onnx").read_bytes()
    manifest = client.get("/manifest.webmanifest").json()
    assert manifest["display"] == "standalone" and {i["sizes"] for i in manifest["icons"]} == {"192x192", "512x512"}
    assert client.get("/icons/icon-512.png").content[:8] == b"\x89PNG\r\n\x1a\n"
    examples = client.get("/examples/index.json").json()
    assert len(examples) == 6 and all("(synthetic)" in e["title"] for e in examples)


def test_wfdb_pair(client, reference, tmp_path):
    header = F.write_wfdb(tmp_path, "rec", F.signal("RBBB", seconds=25))
    r = upload(client, header, tmp_path / "rec.dat")
    assert_same_as_python(r, reference, header, "rec.hea")
    assert r.json()["windows"] == 3 and r.json()["record"] == "rec.hea"


def test_cinc_mat_csv_and_cpsc_original(client, reference, tmp_path):
    header = F.write_cinc_mat(tmp_path / "cinc", "E00001", F.signal("AF"))
    assert_same_as_python(upload(client, header, tmp_path / "cinc" / "E00001.mat"), reference, header, "E00001.hea")
    csv = F.write_csv(tmp_path / "mine.csv", F.signal("SNR", fs=250), fs=250)
    assert_same_as_python(upload(client, csv), reference, csv, "mine.csv")
    mat = F.write_cpsc_original(tmp_path / "cpsc", "A0001", F.signal("LBBB", seconds=12))
    assert_same_as_python(upload(client, mat), reference, mat, "A0001.mat")


def test_npy_needs_fs_and_takes_it_as_a_parameter(client, tmp_path):
    import numpy as np

    path = tmp_path / "x.npy"
    np.save(path, F.signal("SNR"))
    assert upload(client, path).status_code == 422
    r = upload(client, path, fs=500)
    assert r.status_code == 200 and r.json()["fs"] == 500


@pytest.mark.parametrize("case, status, match", [
    ("nothing", 400, "no file uploaded"),
    ("not_multipart", 400, "no file uploaded"),
    ("unsupported", 415, "notes.pdf: unsupported file type"),
    ("truncated_dat", 422, "rec"),
    ("lone_dat", 422, "rec.dat: WFDB signal file without its .hea header"),
    ("two_records", 400, "one record per request"),
    ("nan", 422, "NaN"),
    ("too_large", 413, "upload too large"),
    ("corrupt_mat", 422, "A0001.mat: corrupt or truncated .mat file"),
    ("path_in_name", 200, ""),
    ("bad_fs", 422, "bad request parameter"),
])
def test_bad_uploads_get_json_errors(client, tmp_path, case, status, match):
    x = F.signal("SNR")
    if case == "nothing":
        r = client.post("/api/predict", files=[], data={"x": "1"})
    elif case == "not_multipart":
        r = client.post("/api/predict", content=b"{}", headers={"content-type": "application/json"})
    elif case == "unsupported":
        r = client.post("/api/predict", files=[("file", ("notes.pdf", b"%PDF-1.4", "application/pdf"))])
    elif case in ("truncated_dat", "lone_dat"):
        header = F.write_wfdb(tmp_path, "rec", x)
        dat = tmp_path / "rec.dat"
        if case == "truncated_dat":
            dat.write_bytes(dat.read_bytes()[:999])
        r = upload(client, header, dat) if case == "truncated_dat" else upload(client, dat)
    elif case == "two_records":
        r = upload(client, F.write_csv(tmp_path / "a.csv", x, fs=500), F.write_csv(tmp_path / "b.csv", x, fs=500))
    elif case == "nan":
        x[3, 100:200] = float("nan")
        r = upload(client, F.write_csv(tmp_path / "nan.csv", x, fs=500))
    elif case == "too_large":
        r = client.post("/api/predict", files=[("file", ("big.csv", b"0" * (3 * 1024 * 1024), "text/csv"))])
    elif case == "corrupt_mat":
        mat = tmp_path / "A0001.mat"
        scipy.io.savemat(mat, {"ECG": {"sex": "Male", "age": 40, "data": x}}, do_compression=True)
        r = client.post("/api/predict", files=[("file", ("A0001.mat", mat.read_bytes()[:2000], "application/x-matlab"))])
    elif case == "bad_fs":
        r = client.post("/api/predict", params={"fs": "fast"},
                        files=[("file", ("x.csv", b"I,II\n1,2\n", "text/csv"))])
    else:  # a client sending a path as the file name: only the base name is used, nothing escapes the temp folder
        path = F.write_csv(tmp_path / "ok.csv", x, fs=500)
        r = client.post("/api/predict", files=[("file", ("../../etc/ok.csv", path.read_bytes(), "text/csv"))])
        assert r.json()["record"] == "ok.csv"
    assert r.status_code == status, r.text
    if status != 200:
        assert r.headers["content-type"] == "application/json" and match in r.json()["error"]
        assert "pocketecg-upload-" not in r.json()["error"]  # never our temporary path


def test_model_endpoint(client):
    info = client.get("/api/model").json()
    assert info["classes"] == ["SNR", "AF", "IAVB", "LBBB", "RBBB", "STD"] and info["preprocessing"]["fs"] == 250


def test_serve_without_runtime_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setattr(S, "VENDOR_DIR", tmp_path / "nowhere")
    with pytest.raises(S.SiteError, match="make web"):
        create_app(tmp_path / "site")


def test_write_site_for_static_hosting(monkeypatch, runtime_dir, tmp_path):
    from typer.testing import CliRunner

    from pocketecg.cli import app

    monkeypatch.setattr(S, "VENDOR_DIR", runtime_dir)
    result = CliRunner().invoke(app, ["serve", "--write-site", str(tmp_path / "www")])
    assert result.exit_code == 0, result.output
    for rel in ["index.html", "sw.js", "model.onnx", "vendor/ort-wasm-simd-threaded.wasm", "examples/index.json"]:
        assert (tmp_path / "www" / rel).is_file(), rel
    bad = CliRunner().invoke(app, ["serve", "--write-site", str(tmp_path / "w2"), "--model", str(tmp_path)])
    assert bad.exit_code == 2 and "no exported model in this run" in bad.output


def test_implausible_fs_parameter_is_refused_before_any_work(client, tmp_path):
    """A 120 kB CSV with ?fs=0.02 used to make the server allocate 5.6 GiB while resampling."""
    path = F.write_csv(tmp_path / "r.csv", F.signal(), time_column=False)
    r = upload(client, path, fs=0.02)
    assert r.status_code == 422 and "r.csv: implausible sampling rate 0.02 Hz (from --fs)" in r.json()["error"]


def test_units_parameter_for_csv(client, tmp_path):
    path = F.write_csv(tmp_path / "uv.csv", F.signal() * 1000.0, fs=500)  # µV
    assert "wrong units" in upload(client, path).json()["error"]
    r = client.post("/api/predict", params={"units": "uV"}, files=[("file", ("uv.csv", path.read_bytes(), "text/csv"))])
    assert r.status_code == 200, r.text


def test_clinical_exports_upload(client, shared_formats):
    for name in ("ge_muse_xml/braveheart_example1.xml", "dicom_ecg/pydicom_waveform_ecg.dcm",
                 "scp_ecg/ecgtoolkit_Example.scp"):
        path = shared_formats / name
        r = client.post("/api/predict", files=[("file", (path.name, path.read_bytes(), "application/octet-stream"))])
        assert r.status_code == 200, r.text
        assert r.json()["record"] == path.name


def test_a_300_character_upload_name_is_a_400_and_the_next_request_works(client, tmp_path):
    path = F.write_csv(tmp_path / "r.csv", F.signal(), fs=500)
    r = client.post("/api/predict", files=[("file", ("x" * 296 + ".csv", path.read_bytes(), "text/csv"))])
    assert r.status_code == 400 and "file name too long" in r.json()["error"]
    assert upload(client, path).status_code == 200


def multipart(name: str, body: bytes, boundary: str = "pocketecgboundary") -> tuple[bytes, dict]:
    payload = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
               f"Content-Type: text/csv\r\n\r\n").encode() + body + f"\r\n--{boundary}--\r\n".encode()
    return payload, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def raw_request_head(payload: bytes, headers: dict) -> bytes:
    lines = ["POST /api/predict HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(payload)}",
             *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.fixture
def live_server(runtime_dir, tmp_path, monkeypatch):
    """A real uvicorn server on loopback (TestClient cannot stall, abort or keep a connection alive)."""
    from urllib.parse import urlparse

    from pocketecg.app.server import serving

    monkeypatch.setattr(S, "VENDOR_DIR", runtime_dir)

    @contextlib.contextmanager
    def start(**limits):
        with serving(create_app(tmp_path / "site", **limits)) as url:
            yield urlparse(url).port

    return start


def test_after_a_500_the_same_keep_alive_connection_still_works(live_server, tmp_path, monkeypatch):
    """One persistent HTTP/1.1 connection: error, then success."""
    import http.client

    real = Predictor.predict_record

    def fails_for_boom(self, record, name=None, prepared=None):
        if name == "boom.csv":
            raise RuntimeError("planted failure")
        return real(self, record, name, prepared)

    monkeypatch.setattr(Predictor, "predict_record", fails_for_boom)
    body = F.write_csv(tmp_path / "r.csv", F.signal(), fs=500).read_bytes()

    def post(conn, name):
        conn.request("POST", "/api/predict", *multipart(name, body))
        response = conn.getresponse()
        return response.status, json.loads(response.read())

    with live_server() as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        status, answer = post(conn, "boom.csv")
        assert status == 500 and "boom.csv: internal error (RuntimeError)" in answer["error"]
        for _ in range(3):  # the same connection, several times
            status, answer = post(conn, "ok.csv")
            assert status == 200 and answer["record"] == "ok.csv"
        conn.close()


def read_response(sock) -> tuple[int, dict, dict]:
    sock.settimeout(30)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, json.loads(body)


def test_stalled_and_trickling_uploads_time_out_with_408(live_server, tmp_path):
    import socket
    import time

    payload, headers = multipart("r.csv", F.write_csv(tmp_path / "r.csv", F.signal(), fs=500).read_bytes())
    head = raw_request_head(payload, headers)
    with live_server(upload_seconds=3, upload_idle_seconds=1) as port:
        with socket.create_connection(("127.0.0.1", port)) as sock:  # sends a part, then nothing
            sock.sendall(head + payload[:1000])
            started = time.monotonic()
            status, response_headers, answer = read_response(sock)
            assert status == 408 and "no data for 1 s (1000 bytes received)" in answer["error"]
            assert response_headers["connection"] == "close" and time.monotonic() - started < 10
        with socket.create_connection(("127.0.0.1", port)) as sock:  # 10 bytes every 0.5 s: never idle
            sock.sendall(head)
            started = time.monotonic()
            with contextlib.suppress(OSError):  # the server closes the connection under the sender
                for i in range(20):
                    sock.sendall(payload[i * 10:(i + 1) * 10])
                    time.sleep(0.5)
            status, _, answer = read_response(sock)
            assert status == 408 and "not complete after 3 s" in answer["error"]
            assert time.monotonic() - started < 10


def test_aborted_uploads_log_one_line_each_and_the_server_goes_on(live_server, tmp_path):
    import http.client
    import logging
    import socket
    import time

    lines = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(record)

    payload, headers = multipart("r.csv", F.write_csv(tmp_path / "r.csv", F.signal(), fs=500).read_bytes())
    head = raw_request_head(payload, headers)
    collect = Collect(logging.INFO)
    watched = [logging.getLogger(name) for name in ("uvicorn", "pocketecg")]
    with live_server() as port:
        for logger in watched:
            logger.addHandler(collect)
            logger.setLevel(logging.INFO)
        try:
            for _ in range(40):
                with socket.create_connection(("127.0.0.1", port)) as sock:
                    sock.sendall(head + payload[:len(payload) // 2])  # then hang up mid-body
            deadline = time.monotonic() + 20
            while len(lines) < 40 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)  # a second line per abort, if any, would arrive now
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("POST", "/api/predict", payload, headers)
            assert conn.getresponse().status == 200
            conn.close()
        finally:
            for logger in watched:
                logger.removeHandler(collect)
    aborts = [r for r in lines if "aborted by the client" in r.getMessage()]
    assert len(aborts) == 40, [r.getMessage() for r in lines]
    assert all(r.exc_info is None for r in lines)
    assert len([r for r in lines if r.name != "uvicorn.access"]) == 40


def test_big_site_files_go_out_gzipped_and_decode_to_the_same_bytes(site_and_client):
    import gzip

    site, client = site_and_client
    original = (site / S.MODEL_NAME).read_bytes()
    r = client.get(f"/{S.MODEL_NAME}", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip" and r.content == original
    assert r.num_bytes_downloaded == (site / f"{S.MODEL_NAME}.gz").stat().st_size < len(original)
    assert gzip.decompress((site / f"{S.MODEL_NAME}.gz").read_bytes()) == original
    plain = client.get(f"/{S.MODEL_NAME}", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == original
    api = client.get("/api/model", headers={"Accept-Encoding": "gzip"})
    assert api.status_code == 200 and api.json()["classes"]


def test_brotli_first_when_the_client_accepts_it(site_and_client):
    import brotli

    site, client = site_and_client
    wasm = "vendor/ort-wasm-simd-threaded.wasm"
    original = (site / wasm).read_bytes()
    r = client.get(f"/{wasm}", headers={"Accept-Encoding": "gzip, deflate, br, zstd"})  # what chromium sends
    assert r.status_code == 200 and r.headers["content-encoding"] == "br" and r.content == original
    assert r.num_bytes_downloaded == (site / f"{wasm}.br").stat().st_size < 0.2 * len(original)
    assert brotli.decompress((site / f"{wasm}.br").read_bytes()) == original
    assert r.headers["content-type"] == "application/wasm" and r.headers["vary"] == "Accept-Encoding"
    refused = client.get(f"/{wasm}", headers={"Accept-Encoding": "gzip, br;q=0"})
    assert refused.headers["content-encoding"] == "gzip" and refused.content == original
    # revalidation of the compressed copy is a 304, as for any file
    again = client.get(f"/{wasm}", headers={"Accept-Encoding": "br", "If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


def test_accept_encoding_parsing():
    from pocketecg.app.server import accepted_encodings

    assert accepted_encodings("gzip, deflate, br, zstd") == {"gzip", "deflate", "br", "zstd"}
    assert accepted_encodings("br;q=0, gzip;q=0.5") == {"gzip"}
    assert accepted_encodings("") == set() and accepted_encodings("br;q=x") == set()


def test_big_files_are_brotli_compressed_once_per_content(tmp_path, monkeypatch):
    import brotli

    site = S
    monkeypatch.setattr(site, "BROTLI_CACHE", tmp_path / "cache")
    monkeypatch.setattr(site, "BROTLI_CACHE_MIN_BYTES", 1000)
    data = bytes(range(256)) * 40
    first = site.brotli_bytes(data)
    assert brotli.decompress(first) == data
    (cached,) = (tmp_path / "cache").iterdir()
    assert cached.name == f"{hashlib.sha256(data).hexdigest()}.br"
    cached.write_bytes(brotli.compress(b"marker"))  # a second call reads the cache instead of compressing
    assert brotli.decompress(site.brotli_bytes(data)) == b"marker"
    assert brotli.decompress(site.brotli_bytes(data[:500])) == data[:500]  # small: never cached
    assert len(list((tmp_path / "cache").iterdir())) == 1
