"""Downloads against a real loopback HTTP server (no network, urllib not mocked): checksums,
resume after a dropped connection, refusal of bad content, the offline error, local sources."""

from __future__ import annotations

import hashlib
import re
import socket
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conservattack.data.fetch.download import (DownloadError, adler32_of, download, fetch_first, root_to_https, sha256_of)
from loopback import send_body

PAYLOAD = bytes(range(256)) * 300 + b"end of file"
FAST = {"retries": 2, "backoff": 0.01, "timeout": 5, "progress": False}


class Handler(BaseHTTPRequestHandler):
    """GET /<mode>/<name>: ok (honours Range), drop (first reply stops halfway and closes),
    norange (ignores Range, always 200), offset (answers Range with a 206 from byte 0, once),
    corrupt (flipped bytes), missing (404)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        srv = self.server
        rng = self.headers.get("Range")
        srv.requests.append((self.path, rng))
        mode = self.path.strip("/").split("/")[0]
        if mode == "missing":
            self.send_error(404, "no such file")
            return
        body = srv.payload
        if mode == "corrupt":
            body = bytes(b ^ 0xFF for b in body[:16]) + body[16:]
        start = None
        if rng and mode != "norange":
            start = int(re.fullmatch(r"bytes=(\d+)-", rng).group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        if mode == "offset" and start is not None and srv.drops_left > 0:
            srv.drops_left -= 1
            start = 0  # a partial answer, but not the part that was asked for
        cut = mode == "drop" and srv.drops_left > 0
        srv.drops_left -= cut
        send_body(self, body, start, cut)


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.payload, srv.requests, srv.drops_left = PAYLOAD, [], 1
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    srv.base = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.shutdown()
    srv.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def checks():
    return {"size": len(PAYLOAD), "adler32": f"{zlib.adler32(PAYLOAD):08x}",
            "sha256": hashlib.sha256(PAYLOAD).hexdigest()}


def test_download_verifies_size_and_checksums(server, tmp_path):
    dest = download(f"{server.base}/ok/data.bin", tmp_path / "sub" / "data.bin", **checks(), **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "sub" / "data.bin.part").exists()
    assert adler32_of(dest) == checks()["adler32"] and sha256_of(dest) == checks()["sha256"]
    assert server.requests == [("/ok/data.bin", None)]


def test_resume_after_dropped_connection(server, tmp_path):
    dest = download(f"{server.base}/drop/data.bin", tmp_path / "data.bin", **checks(), **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert [r[1] for r in server.requests] == [None, f"bytes={len(PAYLOAD) // 2}-"]


def test_server_ignoring_range_restarts_cleanly(server, tmp_path):
    (tmp_path / "data.bin.part").write_bytes(b"stale bytes, not a prefix")
    dest = download(f"{server.base}/norange/data.bin", tmp_path / "data.bin", **checks(), **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert server.requests == [("/norange/data.bin", "bytes=25-")]  # asked to resume, got 200


def test_partial_answer_from_the_wrong_offset_is_not_appended(server, tmp_path):
    # 206 for "bytes=1000-" whose Content-Range starts at 0: appending it would double the
    # first 1000 bytes, which nothing would catch in a download without size or checksum; the
    # partial file is dropped instead and the next attempt starts clean
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD[:1000])
    dest = download(f"{server.base}/offset/data.bin", tmp_path / "data.bin", **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert [r[1] for r in server.requests] == ["bytes=1000-", None]


def test_resumed_stale_part_gets_one_clean_restart(server, tmp_path):
    (tmp_path / "data.bin.part").write_bytes(b"x" * 1000)  # wrong bytes the server will extend
    dest = download(f"{server.base}/ok/data.bin", tmp_path / "data.bin", adler32=checks()["adler32"], **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert [r[1] for r in server.requests] == ["bytes=1000-", None]


def test_corrupt_content_is_refused_and_removed(server, tmp_path):
    url, want = f"{server.base}/corrupt/data.bin", checks()["adler32"]
    with pytest.raises(DownloadError) as err:
        download(url, tmp_path / "data.bin", adler32=want, **FAST)
    msg = str(err.value)
    assert url in msg and str(tmp_path / "data.bin") in msg and f"adler32: expected {want}, found " in msg
    assert list(tmp_path.iterdir()) == []
    assert len(server.requests) == 1  # refused, not retried


def test_wrong_size_is_refused(server, tmp_path):
    n = len(PAYLOAD)
    with pytest.raises(DownloadError, match=f"size: expected {n + 1} bytes, found {n} bytes"):
        download(f"{server.base}/ok/data.bin", tmp_path / "data.bin", size=n + 1, **FAST)
    assert list(tmp_path.iterdir()) == []


def test_existing_verified_file_is_not_downloaded_again(server, tmp_path):
    dest = tmp_path / "data.bin"
    dest.write_bytes(PAYLOAD)
    assert download(f"{server.base}/ok/data.bin", dest, **checks(), **FAST) == dest
    assert download(f"http://127.0.0.1:{closed_port()}/x", dest, **checks(), **FAST) == dest
    assert server.requests == []
    dest.write_bytes(PAYLOAD[:-1])  # no longer verifies: fetched again
    download(f"{server.base}/ok/data.bin", dest, **checks(), **FAST)
    assert dest.read_bytes() == PAYLOAD and len(server.requests) == 1


def test_unreachable_host_names_both_ways_out(tmp_path):
    port = closed_port()
    sources = [f"http://127.0.0.1:{port}/a.csv.gz", f"http://127.0.0.1:{port}/b.csv.gz"]
    t0 = time.monotonic()
    with pytest.raises(DownloadError) as err:
        fetch_first(sources, tmp_path / "a.csv.gz", retries=1, backoff=0.01, timeout=5, progress=False)
    assert time.monotonic() - t0 < 5
    msg = str(err.value)
    assert err.value.offline
    assert msg.startswith("download failed: no network connection could be made")
    assert all(s in msg for s in sources)
    assert "enable network access" in msg and "'higgs.local_files'" in msg and "local copy" in msg
    assert list(tmp_path.iterdir()) == []


def test_fetch_first_falls_back_and_does_not_retry_404(server, tmp_path):
    dest = fetch_first([f"{server.base}/missing/d.bin", f"{server.base}/ok/d.bin"], tmp_path / "d.bin",
                       **checks(), **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert [r[0] for r in server.requests] == ["/missing/d.bin", "/ok/d.bin"]
    with pytest.raises(DownloadError, match="download failed from every source") as err:
        fetch_first([f"{server.base}/missing/e.bin"], tmp_path / "e.bin", local_option="ttww.local_files", **FAST)
    assert "HTTP 404" in str(err.value) and "'ttww.local_files'" in str(err.value) and not err.value.offline


def test_local_sources_are_copied_and_verified(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(PAYLOAD)
    assert download(src.as_uri(), tmp_path / "a.bin", **checks(), **FAST).read_bytes() == PAYLOAD
    assert download(str(src), tmp_path / "b.bin", **checks(), **FAST).read_bytes() == PAYLOAD
    with pytest.raises(DownloadError, match="sha256: expected 0{64}"):
        download(src, tmp_path / "c.bin", sha256="0" * 64, **FAST)
    assert not (tmp_path / "c.bin").exists() and not (tmp_path / "c.bin.part").exists()
    with pytest.raises(DownloadError, match="does not exist"):
        download(tmp_path / "nowhere.bin", tmp_path / "d.bin", **FAST)


def test_root_to_https():
    eos = "root://eospublic.cern.ch//eos/opendata/atlas/higgs-challenge-2014/atlas-higgs-challenge-2014-v2.csv.gz"
    https = "https://opendata.cern.ch/eos/opendata/atlas/higgs-challenge-2014/atlas-higgs-challenge-2014-v2.csv.gz"
    assert root_to_https(eos) == https
    assert root_to_https(eos.replace("cern.ch/", "cern.ch:1094/", 1)) == https
    assert root_to_https(https) == https and root_to_https("http://x/y") == "http://x/y"
    with pytest.raises(ValueError, match="only root://eospublic.cern.ch"):
        root_to_https("root://eosuser.cern.ch//eos/user/a/b.root")
    with pytest.raises(ValueError, match="only root://eospublic.cern.ch"):
        root_to_https("root://eospublic.cern.ch//eos/private/b.root")
    with pytest.raises(ValueError, match="expected an http"):
        root_to_https("ftp://host/file")


def test_adler32_of_known_bytes(tmp_path):
    for data, known in ((b"Wikipedia", "11e60398"), (b"", "00000001"), (PAYLOAD, None)):
        path = tmp_path / "f.bin"
        path.write_bytes(data)
        assert adler32_of(path) == f"{zlib.adler32(data):08x}"
        assert known is None or adler32_of(path) == known
        assert sha256_of(path) == hashlib.sha256(data).hexdigest()


def test_bad_parameters_are_named(tmp_path):
    with pytest.raises(ValueError, match="'adler32'"):
        download("http://127.0.0.1:1/x", tmp_path / "x", adler32="not-hex")
    with pytest.raises(ValueError, match="'size'"):
        download("http://127.0.0.1:1/x", tmp_path / "x", size=-1)
    with pytest.raises(ValueError, match="'sha256'"):
        download("http://127.0.0.1:1/x", tmp_path / "x", sha256="abc")
    with pytest.raises(ValueError, match="'retries'"):
        download("http://127.0.0.1:1/x", tmp_path / "x", retries=-1)
