"""Downloads refused unless verified (``download``: HTTP(S) with retries, resume, checksums) and
CERN Open Data records' file indexes (``opendata``)."""

from ..._lazy import lazy_exports

# public name -> module that defines it
_EXPORTS = {
    "DownloadError": "download",
    "fetch_first": "download",
    "fetch_record": "opendata",
    "fetch_records": "opendata",
    "manifest_files": "opendata",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
