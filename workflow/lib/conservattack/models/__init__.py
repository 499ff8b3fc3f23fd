"""Models: the paper's MLP and its deterministic training (``mlp``), ``torch.export`` programs
(``exported``), and an analyst's own model behind the workflow's scaling (``imported``)."""

from .._lazy import lazy_exports

# public name -> module that defines it
_EXPORTS = {
    "PaperMLP": "mlp",
    "TrainingConfig": "mlp",
    "train_classifier": "mlp",
    "save_model": "mlp",
    "load_model": "mlp",
    "ExportedModel": "exported",
    "load_exported": "exported",
    "save_exported": "exported",
    "import_model": "imported",
    "save_imported": "imported",
    "load_user_model": "imported",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
