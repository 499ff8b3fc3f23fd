"""CERN Open Data records: their file indexes, and the first files they list, downloaded and verified.

A CMS dataset record (e.g. TTJets 9582) lists its data files in file indexes: a ``.txt`` index with
one ``root://eospublic.cern.ch//eos/opendata/...`` URL per line, and a ``.json`` index with the
same files and their size and adler32 checksum. :func:`fetch_record` reads a record's indexes,
takes the first ``n_files`` URLs in index order, maps each root:// URL to its HTTPS mirror and
downloads it with :func:`conservattack.data.fetch.download.download` (retries, Range resume, size and
adler32 verified where the JSON index publishes them).

Assumed portal layout (that used by ``cernopendata-client``; this project's machine reaches no
network, so it was not checked against the live portal; every URL is a parameter):

- record metadata: ``GET {server}/api/records/{record}`` (``record_url``) -> JSON whose
  ``metadata.files`` is a list of ``{"uri", "size", "checksum": "adler32:<hex>"}``; the file indexes
  are the entries whose ``uri`` ends in ``_file_index.txt`` and ``_file_index.json``;
- an index file: ``GET {server}/record/{record}/files/{name}`` (``index_url``; ``name`` is the
  last path component of its ``uri``), verified with the size and checksum the record lists;
- the JSON index: a list of ``{"uri", "size", "checksum"}``, one per data file;
- data files: ``root://eospublic.cern.ch//eos/opendata/X`` is served as ``{server}/eos/opendata/X``
  (``https://opendata.cern.ch/eos/opendata/X`` for the default server).

Everything is kept below ``dest``: ``record.json``, the indexes and the data files, so a second
call reuses what verifies and resumes what is partial (``<file>.part``).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path, PurePosixPath
from typing import Sequence
from urllib.parse import urlsplit

from ..io import not_root_head
from .download import DownloadError, download, root_to_https

DEFAULT_SERVER = "https://opendata.cern.ch"
RECORD_URL = "{server}/api/records/{record}"
INDEX_URL = "{server}/record/{record}/files/{name}"
CHECKSUM_SOURCES = ("json_index", "none")
TXT_INDEX, JSON_INDEX = "_file_index.txt", "_file_index.json"
_PORTAL = "https://opendata.cern.ch/"


def parse_checksum(text, where: str) -> str | None:
    """The adler32 of a portal checksum ("adler32:0a1b2c3d") as 8 lowercase hex digits; None for
    another algorithm or no checksum; a malformed adler32 is a ValueError naming ``where``."""
    if text is None or text == "":
        return None
    algo, _, value = str(text).partition(":")
    if not value:
        raise ValueError(f"{where}: checksum {text!r} is not of the form '<algorithm>:<hex>'")
    if algo.strip().lower() != "adler32":
        return None
    value = value.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{1,8}", value):
        raise ValueError(f"{where}: adler32 checksum {text!r} is not up to 8 hex digits")
    return value.zfill(8)


def _size(value, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{where}: size {value!r} is not a non-negative integer")
    return value


def mirror_url(uri: str, server: str = DEFAULT_SERVER) -> str:
    """The HTTP(S) URL of a data file: root://eospublic.cern.ch//eos/opendata/X ->
    {server}/eos/opendata/X; http(s) URLs unchanged (see download.root_to_https)."""
    https = root_to_https(uri)
    if urlsplit(uri).scheme.lower() == "root" and https.startswith(_PORTAL):
        return server.rstrip("/") + "/" + https[len(_PORTAL):]
    return https


def _basename(uri: str, where: str) -> str:
    name = PurePosixPath(urlsplit(uri).path).name
    if not name or name in (".", ".."):
        raise ValueError(f"{where}: cannot take a file name from {uri!r}")
    return name


def read_txt_index(path) -> list[str]:
    """The URLs of a ``.txt`` file index: one per line; blank lines and lines starting with '#'
    are skipped. A line that is not a root:// or http(s):// URL is an error naming file and line."""
    path = Path(path)
    urls = []
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if urlsplit(line).scheme.lower() not in ("root", "http", "https") or not urlsplit(line).path:
            raise ValueError(f"{path}: line {n}: {line[:200]!r} is not a root:// or http(s):// URL")
        urls.append(line)
    return urls


def read_json_index(path) -> dict[str, dict]:
    """{uri: {"size", "adler32"}} of a ``.json`` file index (a list of {"uri", "size", "checksum"})."""
    path = Path(path)
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a JSON file index ({exc})") from exc
    if not isinstance(entries, list):
        raise ValueError(f"{path}: a JSON file index is a list of {{uri, size, checksum}}; got {type(entries).__name__}")
    out = {}
    for k, e in enumerate(entries):
        if not isinstance(e, dict) or "uri" not in e:
            raise ValueError(f"{path}: entry {k} has no 'uri'")
        where = f"{path}: entry {k} ({e['uri']})"
        out[str(e["uri"])] = {"size": _size(e.get("size"), where), "adler32": parse_checksum(e.get("checksum"), where)}
    return out


def record_indexes(record_json: dict, record, where: str) -> dict[str, list[dict]]:
    """{"txt": [...], "json": [...]}: the record's file-index entries {"name", "uri", "size",
    "adler32"} in the order the record lists them. A record without a .txt index is an error."""
    files = (record_json.get("metadata") or {}).get("files") if isinstance(record_json, dict) else None
    if not isinstance(files, list):
        raise ValueError(f"{where}: record {record} JSON has no list 'metadata.files'")
    out: dict[str, list[dict]] = {"txt": [], "json": []}
    for k, f in enumerate(files):
        uri = str(f.get("uri", "")) if isinstance(f, dict) else ""
        kind = "txt" if uri.endswith(TXT_INDEX) else "json" if uri.endswith(JSON_INDEX) else None
        if kind is None:
            continue
        w = f"{where}: metadata.files[{k}]"
        out[kind].append({"name": _basename(uri, w), "uri": uri, "size": _size(f.get("size"), w),
                          "adler32": parse_checksum(f.get("checksum"), w)})
    if not out["txt"]:
        listed = [str(f.get("uri")) for f in files if isinstance(f, dict)][:20]
        raise ValueError(f"{where}: record {record} lists no file index (a metadata.files uri ending in "
                         f"{TXT_INDEX!r}); it lists {listed}")
    return out


def _offline_hint(local_option: str | None) -> str:
    if not local_option:
        return ""
    return (f"\nWays out: (1) enable network access for this run and run it again, or (2) set the config "
            f"option '{local_option}' to local copies of the files (a ROOT file, a folder or a list).")


def fetch_record(record, dest, *, n_files: int | None, server: str = DEFAULT_SERVER,
                 record_url: str = RECORD_URL, index_url: str = INDEX_URL, checksums: str = "json_index",
                 retries: int = 5, timeout: float = 60, backoff: float = 1.0, progress: bool = True,
                 local_option: str | None = None) -> dict:
    """Download the first ``n_files`` data files of CERN Open Data record ``record`` (None: all)
    into ``dest`` (a folder) and return a manifest {"record", "record_url", "indexes", "listed"
    (data files in the indexes), "files": [{"uri", "url", "path", "size", "adler32", "verified"}]}.

    Files come in index order (the record's .txt indexes in the order it lists them, each file's
    lines in order). ``checksums="json_index"`` takes each file's size and adler32 from the
    record's .json indexes and refuses a file that does not match; a file they do not list is
    kept unverified (``verified`` False, and a note on stderr) as long as a ``.root`` one starts
    like a ROOT file; ``"none"`` verifies nothing but that.
    Failures raise DownloadError (``offline`` when no server answered; its message then names
    ``local_option``) or ValueError (malformed record or index, naming the file).
    """
    if checksums not in CHECKSUM_SOURCES:
        raise ValueError(f"checksums must be one of {CHECKSUM_SOURCES}, got {checksums!r}")
    if n_files is not None and (isinstance(n_files, bool) or not isinstance(n_files, int) or n_files < 1):
        raise ValueError(f"n_files must be a positive integer or None, got {n_files!r}")
    dest = Path(dest)
    get = dict(retries=retries, timeout=timeout, backoff=backoff, progress=progress)
    server = server.rstrip("/")
    meta_url = record_url.format(server=server, record=record)

    def fetch(url, path, **checks):
        try:
            return download(url, path, **checks, **get)
        except DownloadError as exc:
            raise DownloadError(f"record {record}: {exc}{_offline_hint(local_option) if exc.offline else ''}",
                                offline=exc.offline) from exc

    # The metadata has no checksum, so a cached copy is reused only for the URL it came from
    # (noted beside it): a corrected server or record_url asks again.
    meta_path, meta_source = dest / "record.json", dest / "record.json.url"
    if meta_path.exists() and (not meta_source.is_file() or meta_source.read_text(encoding="utf-8") != meta_url):
        meta_path.unlink()
    fetch(meta_url, meta_path)
    meta_source.write_text(meta_url, encoding="utf-8")
    try:
        record_json = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        meta_path.unlink()  # not cached: the next call asks again
        raise ValueError(f"{meta_url}: record {record} metadata is not JSON ({exc})") from exc
    try:
        indexes = record_indexes(record_json, record, meta_url)
    except ValueError:
        meta_path.unlink()  # a layout this code cannot read is not kept either
        raise

    def index_file(entry):
        url = index_url.format(server=server, record=record, name=entry["name"])
        return fetch(url, dest / entry["name"], size=entry["size"], adler32=entry["adler32"]), url

    listed, used = [], []
    for entry in indexes["txt"]:
        path, url = index_file(entry)
        used.append({"name": entry["name"], "url": url, "path": str(path)})
        listed.extend(read_txt_index(path))
        if n_files is not None and len(listed) >= n_files:
            break
    if not listed:
        raise ValueError(f"record {record}: its file indexes {[u['path'] for u in used]} list no file")
    wanted = listed if n_files is None else listed[:n_files]
    if n_files is not None and len(listed) < n_files:
        print(f"record {record}: n_files = {n_files} asked, its indexes list {len(listed)}; taking all",
              file=sys.stderr)
    known: dict[str, dict] = {}
    if checksums == "json_index":
        for entry in indexes["json"]:
            path, url = index_file(entry)
            used.append({"name": entry["name"], "url": url, "path": str(path)})
            known.update(read_json_index(path))
    names = [_basename(u, f"record {record} index") for u in wanted]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"record {record}: file name(s) {dup} occur twice in the first {len(wanted)} index entries")
    files = []
    for uri, name in zip(wanted, names):
        checks = known.get(uri, {"size": None, "adler32": None})
        verified = checks["adler32"] is not None or checks["size"] is not None
        if checksums == "json_index" and not verified:
            print(f"record {record}: no size or checksum published for {uri}; kept unverified", file=sys.stderr)
        url = mirror_url(uri, server)
        path = fetch(url, dest / name, size=checks["size"], adler32=checks["adler32"])
        if not verified:
            _refuse_non_root(path, url, record)
        files.append({"uri": uri, "url": url, "path": str(path), "size": path.stat().st_size,
                      "adler32": checks["adler32"], "verified": verified})
    return {"record": record, "record_url": meta_url, "indexes": used, "listed": len(listed), "files": files}


def _refuse_non_root(path: Path, url: str, record) -> None:
    """An unverified ``.root`` download must at least be a ROOT file: a portal or proxy that
    answers with an HTML page (a login, an error, a maintenance notice) and status 200 would
    otherwise be kept, and fail much later in the reader. It is removed, so a re-run asks again."""
    head = not_root_head(path) if path.suffix == ".root" else None
    if head is None:
        return
    path.unlink()
    markup = head.lstrip().startswith(b"<")
    raise DownloadError(f"record {record}: {url} sent a file that is not a ROOT file (it starts with {head!r}"
                        f"{': an HTML page or other markup' if markup else ''}); it has no published checksum, so this is all that "
                        f"can be checked. {path} was removed; run again later, or point the config at a local copy")


def fetch_records(records: Sequence, dest, *, n_files: int | None, **kwargs) -> dict:
    """:func:`fetch_record` for each record (``n_files`` each) into ``dest/<record>/``; returns
    {"records": [manifests], "files": [paths in order]}."""
    records = list(records)
    if not records:
        raise ValueError("no CERN Open Data record given")
    manifests = [fetch_record(r, Path(dest) / str(r), n_files=n_files, **kwargs) for r in records]
    return {"records": manifests, "files": [f["path"] for m in manifests for f in m["files"]]}


def manifest_files(path) -> list[str]:
    """The data files of a manifest written from :func:`fetch_records`, each checked to exist."""
    path = Path(path)
    try:
        files = json.loads(path.read_text())["files"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a download manifest with a 'files' list ({exc})") from exc
    missing = [f for f in files if not Path(f).is_file()]
    if missing:
        raise FileNotFoundError(f"{path}: downloaded file(s) {missing} no longer exist; delete the manifest "
                                "and run the download again")
    return [str(f) for f in files]
