"""Fetching input files: HTTP(S) with retries and resume, refused unless verified.

A download is written to ``<dest>.part`` and renamed to ``dest`` only once its size and
checksums match the expected ones, so ``dest`` is either absent or verified. A broken
connection leaves the ``.part`` file in place and the next attempt asks for the rest with an
HTTP Range request; a server that ignores Range (answers 200) is read again from the start.
Sources may be http(s) URLs, ``root://eospublic.cern.ch//eos/opendata/...`` URLs (fetched from
their HTTPS mirror, see :func:`root_to_https`), ``file:`` URLs or plain local paths (copied).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from pathlib import Path

from tqdm import tqdm

CHUNK = 1 << 20
# HTTP answers worth another try; any other error status (404, 403, ...) fails at once.
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_SLEEP = 60.0
USER_AGENT = "conservattack-download/1"
_EOS_OPENDATA = re.compile(r"^root://eospublic\.cern\.ch(?::\d+)?//?(eos/opendata/.*)$")


class DownloadError(RuntimeError):
    """A download that failed or was refused. ``offline`` is True when no server answered at
    all (connection refused, name not resolved, time-out before any response)."""

    def __init__(self, message: str, *, offline: bool = False):
        super().__init__(message)
        self.offline = offline


class _Interrupted(Exception):
    """The server answered but the body ended early; the ``.part`` file keeps what came."""


def root_to_https(url: str) -> str:
    """``root://eospublic.cern.ch//eos/opendata/X`` -> ``https://opendata.cern.ch/eos/opendata/X``
    (CERN Open Data serves its EOS area over HTTPS too). http(s) URLs are returned unchanged;
    any other root:// host or path, or any other scheme, is a ValueError."""
    url = str(url)
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme in ("http", "https"):
        return url
    if scheme != "root":
        raise ValueError(f"cannot map {url!r} to HTTPS: expected an http(s):// or root:// URL")
    m = _EOS_OPENDATA.match(url)
    if m is None:
        raise ValueError(f"cannot map {url!r} to HTTPS: only root://eospublic.cern.ch//eos/opendata/... "
                         "(CERN Open Data) has a known HTTPS mirror, https://opendata.cern.ch/eos/opendata/...")
    return "https://opendata.cern.ch/" + m.group(1)


def _digests(path, *, adler: bool = True, sha: bool = True) -> tuple[int, str | None, str | None]:
    """Size in bytes, adler32 (8 lowercase hex digits) and sha256 (hex) of a file, in one pass."""
    size, a, h = 0, 1, hashlib.sha256() if sha else None
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            size += len(block)
            if adler:
                a = zlib.adler32(block, a)
            if h is not None:
                h.update(block)
    return size, (f"{a:08x}" if adler else None), (h.hexdigest() if h is not None else None)


def adler32_of(path) -> str:
    """Adler-32 checksum of a file as CERN Open Data lists it: 8 lowercase hex digits (e4717bbe)."""
    return _digests(path, sha=False)[1]


def sha256_of(path) -> str:
    """SHA-256 of a file, 64 lowercase hex digits."""
    return _digests(path, adler=False)[2]


def _expected(size, adler32, sha256, retries, timeout, backoff) -> dict:
    """Validate the parameters; the expected size and checksums, normalised (None = not checked)."""
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"download parameter 'retries' must be a non-negative integer, got {retries!r}")
    if not timeout > 0 or not backoff >= 0:
        raise ValueError(f"download parameters 'timeout' (> 0) and 'backoff' (>= 0) got {timeout!r}, {backoff!r}")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise ValueError(f"download parameter 'size' must be a non-negative integer (bytes), got {size!r}")
    if adler32 is not None:
        text = f"{adler32:08x}" if isinstance(adler32, int) and not isinstance(adler32, bool) else str(adler32)
        text = text.strip().lower().removeprefix("0x")
        if not re.fullmatch(r"[0-9a-f]{1,8}", text):
            raise ValueError(f"download parameter 'adler32' must be up to 8 hex digits (like e4717bbe), "
                             f"got {adler32!r}")
        adler32 = text.zfill(8)
    if sha256 is not None:
        sha256 = str(sha256).strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise ValueError(f"download parameter 'sha256' must be 64 hex digits, got {sha256!r}")
    return {"size": size, "adler32": adler32, "sha256": sha256}


def _mismatches(path: Path, expect: dict) -> list[str]:
    """What differs between the file and the expectation, as 'what: expected X, found Y'."""
    size, adler, sha = _digests(path, adler=expect["adler32"] is not None, sha=expect["sha256"] is not None)
    found = {"size": size, "adler32": adler, "sha256": sha}
    unit = {"size": " bytes"}
    return [f"{k}: expected {v}{unit.get(k, '')}, found {found[k]}{unit.get(k, '')}"
            for k, v in expect.items() if v is not None and found[k] != v]


def _copy(src, out, bar) -> int:
    """Copy a readable binary stream into ``out`` in chunks; returns the bytes copied."""
    n = 0
    while block := src.read(CHUNK):
        out.write(block)
        bar.update(len(block))
        n += len(block)
    return n


def _bar(desc: str, total, initial: int, progress: bool):
    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024,
                desc=desc, disable=not progress, file=sys.stderr, leave=False)


def _range_start(content_range: str | None) -> int | None:
    """First byte of a 'Content-Range: bytes START-END/TOTAL' header, or None."""
    m = re.match(r"\s*bytes\s+(\d+)-", content_range or "")
    return int(m.group(1)) if m else None


def _http_attempt(url: str, part: Path, size, *, timeout: float, progress: bool, state: dict) -> None:
    """One request: resume ``part`` (Range) when it holds bytes, or (re)start it. Raises
    _Interrupted when the body ends before Content-Length, urllib/OS errors as they come."""
    have = part.stat().st_size if part.exists() else 0
    if size is not None and have > size:  # cannot be a prefix of the expected file
        part.unlink()
        have = 0
    if have and size is not None and have == size:
        state["resumed"] = True  # complete from an earlier run: verify it
        return
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        state["reached"] = True
        if exc.code == 416 and have:  # stale partial file: start again on the next attempt
            part.unlink()
            raise _Interrupted(f"server refused the range request for bytes {have}- (HTTP 416)") from exc
        raise
    state["reached"] = True
    with resp:
        if resp.status == 206:
            start = _range_start(resp.headers.get("Content-Range"))
            if not have or start != have:
                part.unlink(missing_ok=True)
                raise _Interrupted(f"asked for bytes {have}- but the server sent a range starting at {start}")
            mode, state["resumed"] = "ab", True
        else:  # 200: the server ignored Range (or there was nothing to resume); start clean
            mode, have, state["resumed"] = "wb", 0, False
        length = resp.headers.get("Content-Length")
        length = int(length) if length is not None and length.isdigit() else None
        total = have + length if length is not None else size
        with open(part, mode) as out, _bar(part.name.removesuffix(".part"), total, have, progress) as bar:
            got = _copy(resp, out, bar)
    if length is not None and got < length:
        raise _Interrupted(f"connection closed after {have + got} of {have + length} bytes")


def _fetch_http(url: str, part: Path, size, *, retries: int, timeout: float, backoff: float,
                progress: bool) -> bool:
    """Bring ``part`` to a complete transfer, retrying with exponential backoff. Returns whether
    the result was assembled from an earlier partial file (a resume)."""
    state = {"reached": False, "resumed": False}
    last = "no attempt made"
    for attempt in range(retries + 1):
        try:
            _http_attempt(url, part, size, timeout=timeout, progress=progress, state=state)
            return state["resumed"]
        except urllib.error.HTTPError as exc:
            if exc.code not in RETRY_STATUS:
                raise DownloadError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from exc
            last = f"HTTP {exc.code} {exc.reason}"
        except urllib.error.URLError as exc:
            last = str(exc.reason)
        except (_Interrupted, OSError, http.client.HTTPException) as exc:
            last = f"{type(exc).__name__}: {exc}" if not isinstance(exc, _Interrupted) else str(exc)
        if attempt < retries:
            time.sleep(min(backoff * 2 ** attempt, MAX_SLEEP))
    raise DownloadError(f"download of {url} failed after {retries + 1} attempt(s): {last}",
                        offline=not state["reached"])


def _local_source(source) -> Path | None:
    """The local path of a ``file:`` URL or plain path; None for network URLs."""
    if isinstance(source, os.PathLike):
        return Path(source)
    parts = urllib.parse.urlsplit(source)
    if parts.scheme.lower() == "file":
        return Path(urllib.request.url2pathname(parts.path))
    if parts.scheme == "" or (len(parts.scheme) == 1 and os.name == "nt"):
        return Path(source)
    return None


def download(url, dest, *, size: int | None = None, adler32=None, sha256: str | None = None,
             retries: int = 5, timeout: float = 60, backoff: float = 1.0, progress: bool = True) -> Path:
    """Fetch ``url`` to ``dest`` and verify it; returns ``dest`` as a Path.

    ``url``: http(s), root://eospublic.cern.ch (via its HTTPS mirror), file: URL or local path.
    ``size`` (bytes), ``adler32`` (hex like e4717bbe, or int) and ``sha256`` are checked when
    given. An existing ``dest`` that verifies is returned without network access. Transport
    errors are retried ``retries`` times (so ``retries + 1`` attempts), sleeping
    ``backoff * 2**k`` seconds (at most 60) before retry k + 1, resuming the ``.part`` file.
    A complete transfer that does not verify is refused: the ``.part`` file is removed and a
    DownloadError names the URL, the file and each expected and found value (a transfer
    assembled by resuming gets one clean restart first, in case the server's file changed).
    """
    dest = Path(dest)
    expect = _expected(size, adler32, sha256, retries, timeout, backoff)
    if dest.is_file():
        wrong = _mismatches(dest, expect)
        if not wrong:
            return dest
        print(f"{dest} exists but does not verify ({'; '.join(wrong)}); fetching it again", file=sys.stderr)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    local = _local_source(url)
    target = None if local is not None else root_to_https(url)
    for clean_restart in (False, True):
        if local is not None:
            if not local.is_file():
                raise DownloadError(f"local source {local} for {dest} does not exist or is not a file")
            with open(local, "rb") as src, open(part, "wb") as out, \
                    _bar(dest.name, local.stat().st_size, 0, progress) as bar:
                _copy(src, out, bar)
            resumed = False
        else:
            resumed = _fetch_http(target, part, expect["size"], retries=retries, timeout=timeout,
                                  backoff=backoff, progress=progress)
        wrong = _mismatches(part, expect)
        if not wrong:
            os.replace(part, dest)
            return dest
        part.unlink(missing_ok=True)
        if not (resumed and not clean_restart):
            break
        print(f"resumed download of {url} does not verify ({'; '.join(wrong)}); restarting from scratch",
              file=sys.stderr)
    raise DownloadError(f"refused download of {url} to {dest}: {'; '.join(wrong)}; the partial file "
                        f"{part} was removed")


def fetch_first(sources, dest, *, local_option: str = "higgs.local_files", **kwargs) -> Path:
    """Try ``sources`` in order with :func:`download` (same keyword arguments) and return the
    first verified ``dest``. When every source fails, raise one DownloadError listing each
    failure and the two ways out: enable network access, or point the config option
    ``local_option`` (a file or folder path) at a local copy. Its message starts with
    'download failed: no network connection could be made' when no server answered at all,
    'download failed from every source' otherwise; ``.offline`` tells the two apart."""
    sources = [sources] if isinstance(sources, (str, os.PathLike)) else list(sources)
    if not sources:
        raise ValueError(f"no source given for {dest}")
    errors = []
    for source in sources:
        try:
            return download(source, dest, **kwargs)
        except DownloadError as exc:
            errors.append(exc)
    offline = all(e.offline for e in errors)
    head = ("download failed: no network connection could be made" if offline
            else "download failed from every source")
    tried = "\n".join(f"  - {e}" for e in errors)
    raise DownloadError(
        f"{head} for {dest}:\n{tried}\nWays out: (1) enable network access for this run and run it "
        f"again, or (2) set the config option '{local_option}' to a local copy of the file "
        f"(a file or a folder path).", offline=offline)
