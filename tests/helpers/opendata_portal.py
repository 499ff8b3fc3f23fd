"""A fake CERN Open Data portal on a loopback HTTP server (a real server; urllib is not mocked).

It serves, in the layout conservattack.data.fetch.opendata assumes: /api/records/<id> (record JSON listing a
.txt and a .json file index), /record/<id>/files/<index name> (the indexes) and
/eos/opendata/cms/<dataset>/<file> (the data files, whose root:// URLs the indexes list). Range
requests are honoured; paths in ``drop`` get their first answer cut halfway.
"""

from __future__ import annotations

import json
import re
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from loopback import send_body

EOS = "root://eospublic.cern.ch//eos/opendata/cms"


def adler32(data: bytes) -> str:
    return f"adler32:{zlib.adler32(data):08x}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        portal: FakePortal = self.server.portal
        rng = self.headers.get("Range")
        portal.requests.append((self.path, rng))
        body = portal.content.get(self.path)
        if body is None:
            self.send_error(404, "no such file")
            return
        start = int(re.fullmatch(r"bytes=(\d+)-", rng).group(1)) if rng else None
        cut = self.path in portal.drop
        portal.drop.discard(self.path)
        send_body(self, body, start, cut)


class FakePortal:
    """``with FakePortal() as portal: portal.add_record(9582, "TTJets", {"a.root": b"..."})``."""

    def __init__(self):
        self.content: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.drop: set[str] = set()
        self._srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._srv.portal = self
        self.server = f"http://127.0.0.1:{self._srv.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self._srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._srv.shutdown()
        self._srv.server_close()

    def add_record(self, record: int, dataset: str, files: dict[str, bytes], *, n_txt: int = 1,
                   json_index: bool = True, bad_checksum: tuple[str, ...] = ()) -> list[str]:
        """A record whose data ``files`` are listed in ``n_txt`` .txt indexes (split in order) and,
        with ``json_index``, one .json index with sizes and adler32 (wrong for ``bad_checksum``).
        Returns the root:// URLs in index order."""
        uris = [f"{EOS}/{dataset}/AODSIM/{name}" for name in files]
        for name, data in files.items():
            self.content[f"/eos/opendata/cms/{dataset}/AODSIM/{name}"] = data
        listing = []
        per = -(-len(uris) // n_txt)
        for k in range(n_txt):
            name = f"CMS_{dataset}_AODSIM_{k:05d}_file_index.txt"
            text = "".join(u + "\n" for u in uris[k * per:(k + 1) * per]).encode()
            self.content[f"/record/{record}/files/{name}"] = text
            listing.append({"uri": f"{EOS}/{dataset}/file-indexes/{name}", "size": len(text),
                            "checksum": adler32(text)})
        if json_index:
            entries = [{"uri": u, "size": len(d),
                        "checksum": adler32(d + b"x" if n in bad_checksum else d)}
                       for u, (n, d) in zip(uris, files.items())]
            text = json.dumps(entries).encode()
            name = f"CMS_{dataset}_AODSIM_file_index.json"
            self.content[f"/record/{record}/files/{name}"] = text
            listing.append({"uri": f"{EOS}/{dataset}/file-indexes/{name}", "size": len(text),
                            "checksum": adler32(text)})
        record_json = {"id": record, "metadata": {"recid": str(record), "title": f"/{dataset}/AODSIM",
                                                  "files": listing}}
        self.content[f"/api/records/{record}"] = json.dumps(record_json).encode()
        return uris

    def add_record_from_folder(self, record: int, dataset: str, folder: Path, **kwargs) -> list[str]:
        return self.add_record(record, dataset, {p.name: p.read_bytes() for p in sorted(folder.glob("*.root"))},
                               **kwargs)
