"""Data: reading and writing the workflow's files (``io``, ``tables``), splitting and scaling
(``preprocessing``), each data set (``donut``, ``higgs``, ``jets`` and ``ttww`` for the TT vs WW
jets, ``custom`` for an analyst's events, ``real`` for real data, ``units``), the smoothed-bootstrap
stand-in of a real sample at a larger size (``standin``) and downloads with checksum verification
(``fetch``)."""

from .._lazy import lazy_exports

# public name -> module that defines it
_EXPORTS = {
    "read_parquet": "io",
    "write_parquet": "io",
    "read_json": "io",
    "write_json": "io",
    "MinMaxScaler": "preprocessing",
    "stratified_split": "preprocessing",
    "stratified_subset": "preprocessing",
    "generate_donut": "donut",
    "read_higgs": "higgs",
    "prepare_higgs": "higgs",
    "read_jets": "jets",
    "topodnn_frame": "jets",
    "prepare_ttww": "ttww",
    "read_events": "custom",
    "read_table": "custom",
    "read_real_events": "real",
    "feature_units": "units",
    "make_standin": "standin",
    "prepare_higgs_standin": "standin",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
