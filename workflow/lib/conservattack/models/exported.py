"""Models saved with ``torch.export`` (``torch.export.save``: a ``.pt2`` archive), the successor of
TorchScript, which torch 2.13 deprecates.

An exported program is a graph of ATen operations with its weights. ``ExportedModel`` runs it as an
``nn.Module`` that autograd differentiates, like any other model here. Two things differ from an
eager or TorchScript model, and are handled here:

- the program's train/eval behaviour (dropout, batch norm) was fixed when it was exported, and its
  module refuses ``.eval()``; ``ExportedModel.train`` leaves the graph alone;
- the logit is found in the graph: when the output is ``sigmoid(z)``, possibly reshaped,
  ``logit_head`` returns the same program returning ``z`` (``inference.logit_head`` uses it),
  which keeps the attack's gradient sign exact where float32 rounds the probability to 1.

The number of events must be a dynamic dimension of the export::

    program = torch.export.export(model.eval(), (torch.rand(8, n_features),),
                                  dynamic_shapes=({0: torch.export.Dim("events")},))
    torch.export.save(program, "model.pt2")
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import torch

EXPORT_RECIPE = ('torch.export.save(torch.export.export(model.eval(), (torch.rand(8, n_features),), '
                 'dynamic_shapes=({0: torch.export.Dim("events")},)), path)')
_aten = torch.ops.aten
# operations that only reshape or copy: a sigmoid followed by these still gives the logit
_SHAPE_ONLY = {_aten.view.default, _aten.reshape.default, _aten._unsafe_view.default, _aten.squeeze.default,
               _aten.squeeze.dim, _aten.squeeze.dims, _aten.unsqueeze.default, _aten.flatten.using_ints,
               _aten.clone.default, _aten.alias.default}


def is_exported_program(path) -> bool:
    """Whether ``path`` is a ``torch.export.save`` archive (PT2 format)."""
    try:
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n.split("/")[1:] == ["archive_format"]]
            return bool(names) and z.read(names[0]).strip() == b"pt2"
    except (zipfile.BadZipFile, OSError, KeyError):
        return False


class _GraphHolder(torch.nn.Module):
    """A program's graph module as a submodule whose train/eval mode is the one it was exported in."""

    def __init__(self, graph_module: torch.nn.Module):
        super().__init__()
        self.graph_module = graph_module

    def train(self, mode: bool = True):
        # the exported graph refuses train()/eval() (its mode was fixed when it was exported)
        self.training = mode
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.graph_module(x)


class ExportedModel(_GraphHolder):
    """An exported program (``torch.export``) of one input tensor (events x features) and one output."""

    def __init__(self, program: torch.export.ExportedProgram):
        super().__init__(program.module())
        # built once: the attack asks for the logit at every iteration. A one-element tuple keeps
        # nn.Module from registering the head as a submodule (its weights would count twice).
        self._head = (_logit_graph(program),)

    def logit_head(self) -> torch.nn.Module | None:
        """The program returning the argument of its final sigmoid, or None without one."""
        return self._head[0]


def _logit_graph(program: torch.export.ExportedProgram) -> torch.nn.Module | None:
    """``program`` returning ``z`` where its output is ``sigmoid(z)``, possibly reshaped; else None."""
    head = program.module()
    output = next(node for node in head.graph.nodes if node.op == "output")
    node = output.args[0][0]
    while node.op == "call_function" and node.target in _SHAPE_ONLY and len(node.users) == 1:
        node = node.args[0]
    if not (node.op == "call_function" and node.target == _aten.sigmoid.default and len(node.users) == 1):
        return None
    node.replace_all_uses_with(node.args[0])
    head.graph.erase_node(node)
    head.recompile()
    return _GraphHolder(head).eval()


def load_exported(path) -> ExportedModel:
    """The exported program in ``path``, checked to take one tensor whose first dimension (the
    events) is dynamic, and to return one tensor; ValueError naming the file otherwise."""
    try:
        program = torch.export.load(str(path))
    except Exception as exc:  # noqa: BLE001 - re-raised with the file named
        raise ValueError(f"{path}: cannot load the torch.export program ({type(exc).__name__}: {exc})") from exc
    signature = program.graph_signature
    if len(signature.user_inputs) != 1 or len(signature.user_outputs) != 1:
        raise ValueError(f"{path}: the exported program takes {len(signature.user_inputs)} input(s) and returns "
                         f"{len(signature.user_outputs)} output(s); the workflow needs one tensor (events x features) "
                         f"in and one, P(class 1), out")
    (x,) = (node for node in program.graph.nodes if node.op == "placeholder" and node.name in signature.user_inputs)
    shape = getattr(x.meta.get("val"), "shape", None)
    if shape is None or len(shape) != 2:
        raise ValueError(f"{path}: the exported program's input has shape {tuple(shape or ())}; expected "
                         f"(events, features)")
    if not isinstance(shape[0], torch.SymInt):
        raise ValueError(f"{path}: the program was exported for exactly {shape[0]} events; export it with the number "
                         f"of events dynamic: {EXPORT_RECIPE}")
    return ExportedModel(program).eval()


def save_exported(model: torch.nn.Module, n_features: int, dtype: torch.dtype, path) -> None:
    """Export ``model`` (one tensor of ``n_features`` columns in ``dtype`` in, one out) with a dynamic
    number of events and write it to ``path`` in one go (no partial file if exporting fails)."""
    example = torch.zeros(8, n_features, dtype=dtype)
    program = torch.export.export(model.eval(), (example,), dynamic_shapes=({0: torch.export.Dim("events")},))
    buf = io.BytesIO()
    torch.export.save(program, buf)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(buf.getvalue())
