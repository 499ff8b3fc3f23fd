"""The analyst toolkit's readers and checks (conservattack.data.custom, conservattack.models.imported, conservattack.pipeline.custom_config):
Parquet, CSV and ROOT events, the errors that name file and column, and the user's model
(torch.export or TorchScript) wrapped behind the workflow's scaling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from conservattack.models.exported import ExportedModel, is_exported_program
from conservattack.attacks.inference import logit_head, loss_gradient_sign, predict_proba
from conservattack.models.mlp import PaperMLP, is_torchscript, load_model, save_model
from conservattack.data.preprocessing import MinMaxScaler
from conservattack.data.real import read_real_events
from conservattack.pipeline.custom_config import check_custom_config
from conservattack.models.imported import import_model, save_imported
from conservattack.data.custom import read_events, read_table


def frame(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"pt": rng.uniform(20, 200, n), "eta": rng.uniform(-2.5, 2.5, n),
                         "is_sig": np.arange(n) % 2, "other": ["x"] * n})


@pytest.mark.parametrize("name", ["ev.csv", "ev.csv.gz", "ev.parquet"])
def test_events_from_csv_and_parquet(tmp_path, name):
    df = frame()
    path = tmp_path / name
    df.to_parquet(path) if name.endswith("parquet") else df.to_csv(path, index=False)
    ev = read_events(path, ["eta", "pt"], "is_sig")
    assert list(ev.columns) == ["eta", "pt", "label", "event"]
    np.testing.assert_allclose(ev.pt, df.pt)
    assert list(ev.label) == list(df.is_sig) and list(ev.event) == list(range(len(df)))


def test_events_from_root_tree(tmp_path):
    uproot = pytest.importorskip("uproot")
    df = frame()
    with uproot.recreate(tmp_path / "ev.root") as f:  # a TTree, as most analyses write them
        f.mktree("Events", {"pt": "float64", "eta": "float64", "is_sig": "int32"}).extend(
            {"pt": df.pt.to_numpy(), "eta": df.eta.to_numpy(), "is_sig": df.is_sig.to_numpy(np.int32)})
    with uproot.recreate(tmp_path / "rntuple.root") as f:  # uproot's default for new files
        f["Events"] = {"pt": df.pt.to_numpy(), "is_sig": df.is_sig.to_numpy(np.int32)}
    assert read_events(tmp_path / "rntuple.root", ["pt"], "is_sig").label.sum() == 20
    ev = read_events(tmp_path / "ev.root", ["pt", "eta"], "is_sig")  # the file's only tree
    np.testing.assert_allclose(ev.eta, df.eta)
    assert read_events(tmp_path / "ev.root", ["pt"], "is_sig", tree="Events").label.sum() == 20
    with pytest.raises(ValueError, match=r"ev.root: no tree 'Nope'; trees present: \['Events'\]"):
        read_events(tmp_path / "ev.root", ["pt"], "is_sig", tree="Nope")
    with pytest.raises(ValueError, match=r"ev.root: missing column\(s\) \['phi'\]; columns present"):
        read_events(tmp_path / "ev.root", ["pt", "phi"], "is_sig")
    real = read_real_events(tmp_path / "ev.root", ["pt", "eta"])  # ROOT real data, no label
    assert list(real.columns) == ["pt", "eta", "event"]


def test_missing_file_and_column_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.csv: no such file"):
        read_events(tmp_path / "nowhere.csv", ["pt"], "is_sig")
    frame().to_csv(tmp_path / "ev.csv", index=False)
    with pytest.raises(ValueError, match=r"ev.csv: missing column\(s\) \['phi'\]; columns present: "
                                         r"\['pt', 'eta', 'is_sig', 'other'\]"):
        read_events(tmp_path / "ev.csv", ["pt", "phi"], "is_sig")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['label'\]"):
        read_events(tmp_path / "ev.csv", ["pt"], "label")
    with pytest.raises(ValueError, match="cannot tell the format"):
        read_table(tmp_path / "ev.dat", ["pt"]) if (tmp_path / "ev.dat").write_text("x") else None


@pytest.mark.parametrize("name, content, message", [
    ("empty.csv", "", r"empty.csv: cannot read as csv; is it empty, truncated or of another format\? \(EmptyDataError"),
    ("blank.csv", "\n\n\n", r"blank.csv: cannot read as csv; is it empty"),
    ("quote.csv", 'pt,is_sig\n"1,0\n2,1\n', r"quote.csv: cannot read as csv \(ParserError"),
    ("twice.csv", "pt,pt,is_sig\n1,2,0\n", r"twice.csv: column name\(s\) \['pt'\] appear more than once in the header"),
    ("surplus.csv", "pt,is_sig\n1,0\n0.5,0.7,1\n2,1\n",
     r"surplus.csv: cannot read as csv \(ParserError: .*Expected 2 fields in line 3, saw 3"),
    # every row one field longer than the header: pandas would take pt as the index, shifting values
    ("shifted.csv", "pt,is_sig\n1,0,9\n2,1,8\n", r"shifted.csv: its rows have more fields than the header's 2 columns"),
    ("trailing.csv", "pt,is_sig\n1,0,\n2,1,\n", r"trailing.csv: its rows have more fields .*a trailing delimiter"),
    ("cut.parquet", None, r"cut.parquet: cannot read as parquet; is it empty, truncated or of another format\?"),
    ("twice.parquet", None, r"twice.parquet: column name\(s\) \['pt'\] appear more than once"),
])
def test_malformed_files_are_named(tmp_path, name, content, message):
    path = tmp_path / name
    if name == "cut.parquet":
        frame().to_parquet(path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif name == "twice.parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table([pa.array([1.0, 2.0]), pa.array([3.0, 4.0]), pa.array([0, 1])],
                                names=["pt", "pt", "is_sig"]), path)
    else:
        path.write_text(content)
    with pytest.raises(ValueError, match=message):
        read_events(path, ["pt"], "is_sig", min_per_class=1)


def test_missing_value_markers_are_refused_where_configured(tmp_path):
    df = frame()
    df.loc[[4, 9], "eta"] = -999.0
    df.to_csv(tmp_path / "ev.csv", index=False)
    with pytest.raises(ValueError, match=r"ev.csv: column 'eta' has 2 value\(s\) -999, first at row 4: a missing-value "
                                         r"marker \(custom.data.missing_values\)"):
        read_events(tmp_path / "ev.csv", ["pt", "eta"], "is_sig", missing_values=[-999.0])
    df.drop(columns="is_sig").to_csv(tmp_path / "real.csv", index=False)
    with pytest.raises(ValueError, match=r"real.csv: column 'eta' has 2 value\(s\) -999"):  # real data alike
        read_real_events(tmp_path / "real.csv", ["pt", "eta"], missing_values=[-999.0])
    ok = read_events(tmp_path / "ev.csv", ["pt", "eta"], "is_sig", missing_values=[])  # declared genuine
    assert (ok.eta == -999.0).sum() == 2
    assert len(read_events(tmp_path / "ev.csv", ["pt"], "is_sig", missing_values=[-999.0])) == 40  # pt is clean


def test_truncated_root_files_are_named(tmp_path):
    uproot = pytest.importorskip("uproot")
    df = frame(2000)
    with uproot.recreate(tmp_path / "ev.root") as f:
        f.mktree("Events", {"pt": "float64", "is_sig": "int32"}).extend(
            {"pt": df.pt.to_numpy(), "is_sig": df.is_sig.to_numpy(np.int32)})
    data = (tmp_path / "ev.root").read_bytes()
    for fraction in (0.02, 0.3, 0.6, 0.9, 0.99):
        cut = tmp_path / f"cut{fraction}.root"
        cut.write_bytes(data[: int(len(data) * fraction)])
        with pytest.raises(ValueError, match=rf"cut{fraction}.root: .*truncated or damaged"):
            read_events(cut, ["pt"], "is_sig")


@pytest.mark.parametrize("value, message", [
    ("abc", r"column 'pt' has 1 non-numeric value\(s\), first at row 3: 'abc'"),
    ("", r"column 'pt' has 1 non-numeric value\(s\), first at row 3: ''"),
    ("nan", r"column 'pt' has 1 NaN or infinite value\(s\), first at row 3"),
    ("inf", r"column 'pt' has 1 NaN or infinite value\(s\), first at row 3"),
])
def test_bad_values_are_named_with_their_row(tmp_path, value, message):
    df = frame().astype({"pt": object})
    df.loc[3, "pt"] = value
    df.to_csv(tmp_path / "ev.csv", index=False)
    with pytest.raises(ValueError, match="ev.csv: " + message):
        read_events(tmp_path / "ev.csv", ["pt", "eta"], "is_sig")


def test_nan_in_parquet_and_labels(tmp_path):
    df = frame()
    df.loc[5, "eta"] = np.nan
    df.to_parquet(tmp_path / "ev.parquet")
    with pytest.raises(ValueError, match=r"ev.parquet: column 'eta' has 1 NaN or infinite value\(s\), first at row 5"):
        read_events(tmp_path / "ev.parquet", ["pt", "eta"], "is_sig")
    df = frame()
    df.loc[7, "is_sig"] = 2
    df.to_csv(tmp_path / "ev.csv", index=False)
    with pytest.raises(ValueError, match=r"label column 'is_sig' must be 0 \(background\) or 1 \(signal\); found "
                                         r"\[2.0\], first at row 7"):
        read_events(tmp_path / "ev.csv", ["pt"], "is_sig")
    df = frame()
    df["is_sig"] = df.is_sig.astype(bool)
    df.to_parquet(tmp_path / "bool.parquet")
    assert read_events(tmp_path / "bool.parquet", ["pt"], "is_sig").label.sum() == 20
    df.to_csv(tmp_path / "bool.csv", index=False)  # written as True/False
    assert read_events(tmp_path / "bool.csv", ["pt"], "is_sig").label.tolist() == df.is_sig.astype(int).tolist()
    df["is_sig"] = 1
    df.to_parquet(tmp_path / "one.parquet")
    with pytest.raises(ValueError, match=r"0 background \(0\) and 40 signal \(1\) events; at least 10"):
        read_events(tmp_path / "one.parquet", ["pt"], "is_sig")
    with pytest.raises(ValueError, match="label column 'is_sig' is also listed as a feature"):
        read_events(tmp_path / "one.parquet", ["pt", "is_sig"], "is_sig")
    # would overwrite, or be overwritten by, the row number, the class, the adversaries table's
    # columns or the clean copy of pt
    for reserved in ("event", "label", "fooled", "p_clean", "p_adv", "clean_pt"):
        df.assign(**{reserved: 10.0 * np.arange(len(df))}).to_parquet(tmp_path / "reserved.parquet")
        with pytest.raises(ValueError, match=rf"feature name\(s\) \['{reserved}'\] are reserved .*reserved.parquet"):
            read_events(tmp_path / "reserved.parquet", ["pt", reserved], "is_sig")
    frame().assign(clean_eta=1.0).to_parquet(tmp_path / "fine.parquet")  # eta is no feature here
    assert len(read_events(tmp_path / "fine.parquet", ["pt", "clean_eta"], "is_sig")) == 40


class RawModel(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid((x[:, 0] - 100.0) / 10.0)


class WrongShape(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x)


class ReturnsPair(torch.nn.Module):
    def forward(self, x: torch.Tensor):
        return torch.sigmoid(x[:, 0]), x


class Swapped(torch.nn.Module):
    """P(background) where P(signal) is expected: RawModel's 1 - p."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 1.0 - torch.sigmoid((x[:, 0] - 100.0) / 10.0)


class NotAProbability(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :1] * 100.0


def scripted(module, path):
    torch.jit.save(torch.jit.script(module), str(path))
    return path


def exported(module, path, events=torch.export.Dim("events"), features=2):
    """``module`` saved with torch.export, the number of events dynamic (``events`` None: fixed)."""
    program = torch.export.export(module.eval(), (torch.rand(5, features) * 100,),
                                  dynamic_shapes=None if events is None else ({0: events},))
    torch.export.save(program, str(path))
    return path


class SqueezedSigmoid(torch.nn.Module):
    """A sigmoid followed by a reshape: the logit is still found in the exported graph."""

    def __init__(self, lin: torch.nn.Linear):
        super().__init__()
        self.lin = lin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.lin(x)).squeeze(-1)


class TwoInputs(torch.nn.Module):
    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x[:, 0] * w[:, 0])


def test_user_model_takes_raw_features_behind_the_scaling(tmp_path):
    df = frame(200)
    scaler = MinMaxScaler.fit(df, ["pt", "eta"])
    X_scaled = scaler.transform(df[["pt", "eta"]])
    y = (df.pt > 100).astype(int).to_numpy()
    model, checks = import_model(scripted(RawModel(), tmp_path / "m.pt"), scaler, X_scaled, y, "raw")
    expected = torch.sigmoid(torch.tensor((df.pt.to_numpy() - 100.0) / 10.0)).numpy()
    with torch.no_grad():
        got = model(torch.tensor(X_scaled, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert checks["auroc"] == pytest.approx(1.0) and checks["events"] == 200
    save_imported(model, 2, tmp_path / "slot.pt")  # the run's model slot: load_model recognises it
    assert is_torchscript(tmp_path / "slot.pt")
    loaded = load_model(tmp_path / "slot.pt")
    with torch.no_grad():
        np.testing.assert_allclose(loaded(torch.tensor(X_scaled, dtype=torch.float32)).numpy(), got)
    save_model(PaperMLP(2), tmp_path / "mlp.pt", {})
    assert not is_torchscript(tmp_path / "mlp.pt") and isinstance(load_model(tmp_path / "mlp.pt"), PaperMLP)
    assert not is_exported_program(tmp_path / "mlp.pt") and not is_exported_program(tmp_path / "slot.pt")
    # the same model saved with torch.export: the slot is an exported program of the wrapper
    model, checks = import_model(exported(RawModel(), tmp_path / "m.pt2"), scaler, X_scaled, y, "raw")
    assert checks["auroc"] == pytest.approx(1.0)
    np.testing.assert_allclose(predict_proba(model, X_scaled), expected, atol=1e-4)
    save_imported(model, 2, tmp_path / "slot2.pt")
    assert is_exported_program(tmp_path / "slot2.pt") and not is_torchscript(tmp_path / "slot2.pt")
    loaded = load_model(tmp_path / "slot2.pt")
    assert isinstance(loaded, ExportedModel) and not loaded.training
    np.testing.assert_array_equal(predict_proba(loaded, X_scaled), predict_proba(model, X_scaled))
    np.testing.assert_array_equal(predict_proba(loaded, X_scaled[:1]), predict_proba(model, X_scaled[:1]))


class WithLogit(torch.nn.Module):
    """An analyst's model that is not a Sequential but exports its logit."""

    def __init__(self, net: torch.nn.Sequential):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    @torch.jit.export
    def logit(self, x: torch.Tensor) -> torch.Tensor:
        return self.net[0](x)


def test_imported_models_keep_the_saturation_safe_gradient(tmp_path):
    # p = sigmoid(-30 pt' + 20 eta') on raw inputs; at (0, 1) the logit is 20 and float32 p == 1.0,
    # so dp/dx is exactly 0 and would give sign +1 everywhere; the logit gives (+1, -1) for label 1
    lin = torch.nn.Linear(2, 1)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[-30.0, 20.0]]))
        lin.bias.zero_()
    seq = torch.nn.Sequential(lin, torch.nn.Sigmoid()).eval()
    df = pd.DataFrame({"pt": [0.0, 2.0, 0.0, 1.0], "eta": [1.0, 0.0, 0.0, 1.0], "is_sig": [1, 0, 1, 0]})
    scaler = MinMaxScaler.fit(df, ["pt", "eta"])
    X = scaler.transform(df[["pt", "eta"]])
    y = df.is_sig.to_numpy()
    expected = np.array([[1.0, -1.0]])  # sign of (1 - 2y) dz/dx at event 0: -(-30 / span, 20 / span)
    for name, user in [("scripted", torch.jit.script(seq)), ("traced", torch.jit.trace(seq, torch.zeros(1, 2))),
                       ("logit method", torch.jit.script(WithLogit(seq)))]:
        torch.jit.save(user, str(tmp_path / f"{name}.pt"))
    exported(seq, tmp_path / "torch.export.pt")
    exported(SqueezedSigmoid(lin), tmp_path / "squeezed.pt")
    for name in ("scripted", "traced", "logit method", "torch.export", "squeezed"):
        for inputs, X_in in (("raw", X), ("scaled", df[["pt", "eta"]].to_numpy())):
            model, _ = import_model(tmp_path / f"{name}.pt", scaler, X_in, y, inputs)
            save_imported(model, 2, tmp_path / "slot.pt")
            slot = load_model(tmp_path / "slot.pt")
            assert logit_head(slot) is not None, (name, inputs)
            assert predict_proba(slot, X_in[:1])[0] == 1.0  # saturated: dp/dx is exactly zero there
            np.testing.assert_array_equal(loss_gradient_sign(slot, X_in[:1], y[:1]), expected, err_msg=name)
    # a model whose logit is unknown keeps dp/dx: zero at saturation, so +1 on every feature
    model, _ = import_model(scripted(RawModel(), tmp_path / "raw.pt"), scaler, X, y[::-1], "raw")
    assert logit_head(model) is None
    not_last = torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.Sigmoid(), torch.nn.Hardtanh(0.0, 1.0))
    assert logit_head(load_model(exported(not_last, tmp_path / "clamped.pt2"))) is None


def test_bad_user_models_are_named(tmp_path):
    df = frame(50)
    scaler = MinMaxScaler.fit(df, ["pt", "eta"])
    X, y = scaler.transform(df[["pt", "eta"]]), df.is_sig.to_numpy()
    with pytest.raises(ValueError, match=r"wrong.pt: the model fails on 2 features .*shape \(50, 2\) for 50 events"):
        import_model(scripted(WrongShape(), tmp_path / "wrong.pt"), scaler, X, y)
    with pytest.raises(ValueError, match=r"big.pt: the model fails .*expected P\(class 1\) in \[0, 1\]"):
        import_model(scripted(NotAProbability(), tmp_path / "big.pt"), scaler, X, y)
    with pytest.raises(ValueError, match=r"pair.pt: cannot put the model behind the workflow's scaling .*return one "
                                         r"tensor, P\(class 1\) \(Return value was annotated as having type Tensor"):
        import_model(scripted(ReturnsPair(), tmp_path / "pair.pt"), scaler, X, y, "raw")
    with pytest.raises(ValueError, match=r"three.pt: the model fails on 2 features .*: RuntimeError: mat1 and mat2 "
                                         r"shapes cannot be multiplied \(50x2 and 3x1\)$"):  # the cause, no traceback
        import_model(scripted(torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Sigmoid()), tmp_path / "three.pt"),
                     scaler, X, y)
    with pytest.raises(ValueError, match=r"swapped.pt: AUROC 0.000 on the validation split, below 0.5"):
        import_model(scripted(Swapped(), tmp_path / "swapped.pt"), scaler, X, (df.pt > 100).astype(int).to_numpy())
    save_model(PaperMLP(2), tmp_path / "state.pt", {})
    with pytest.raises(ValueError, match=r"state.pt: neither a torch.export program nor a TorchScript model; save "
                                         r"it with torch.export.save\(torch.export.export\(model.eval\(\)"):
        import_model(tmp_path / "state.pt", scaler, X, y)
    seq = torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.Sigmoid())
    with pytest.raises(ValueError, match=r"fixed.pt2: the program was exported for exactly 5 events; export it with "
                                         r"the number of events dynamic: .*dynamic_shapes=\(\{0: "):
        import_model(exported(seq, tmp_path / "fixed.pt2", events=None), scaler, X, y)
    program = torch.export.export(TwoInputs(), (torch.rand(5, 2), torch.rand(5, 2)))
    torch.export.save(program, str(tmp_path / "two.pt2"))
    with pytest.raises(ValueError, match=r"two.pt2: the exported program takes 2 input\(s\) and returns 1 output"):
        import_model(tmp_path / "two.pt2", scaler, X, y)
    with pytest.raises(ValueError, match=r"wide.pt2: the model fails on 2 features .*inputs: raw"):
        import_model(exported(torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Sigmoid()), tmp_path / "wide.pt2",
                                     features=3), scaler, X, y)
    with pytest.raises(FileNotFoundError, match="none.pt: no such model file"):
        import_model(tmp_path / "none.pt", scaler, X, y)


def test_config_checks(tmp_path):
    (tmp_path / "ev.csv").write_text("pt,is_sig\n1,0\n")
    ok = {"data": {"path": str(tmp_path / "ev.csv"), "features": ["pt"], "label": "is_sig"}, "real_data": None,
          "model": {"path": None}}
    check_custom_config(ok)
    # the columns and formats of the events and the real data, before any rule runs
    with pytest.raises(ValueError, match=r"config custom.data.path: .*ev.csv: missing column\(s\) \['eta'\]; columns "
                                         r"present: \['pt', 'is_sig'\]"):
        check_custom_config({**ok, "data": {**ok["data"], "features": ["pt", "eta"]}})
    (tmp_path / "real.csv").write_text("pyy\n1\n")
    with pytest.raises(ValueError, match=r"config custom.real_data: .*real.csv: missing column\(s\) \['pt'\]"):
        check_custom_config({**ok, "real_data": str(tmp_path / "real.csv")})
    (tmp_path / "real.dat").write_text("pt\n1\n")
    with pytest.raises(ValueError, match=r"config custom.real_data: .*real.dat: cannot tell the format"):
        check_custom_config({**ok, "real_data": str(tmp_path / "real.dat")})
    with pytest.raises(ValueError, match=r"config custom.data.path: .*ev.csv: cannot open as a ROOT file"):
        check_custom_config({**ok, "data": {**ok["data"], "format": "root"}})
    with pytest.raises(ValueError, match=r"config custom.data.units: \['eta'\] are not features"):
        check_custom_config({**ok, "data": {**ok["data"], "units": {"pt": "GeV", "eta": ""}}})
    with pytest.raises(FileNotFoundError, match=r"config custom.real_data: .* is a directory, not a file"):
        check_custom_config({**ok, "real_data": str(tmp_path)})
    with pytest.raises(ValueError, match="custom.data.path: name your events file"):
        check_custom_config({**ok, "data": {"path": None, "features": ["pt"]}})
    with pytest.raises(ValueError, match="custom.data.features"):
        check_custom_config({**ok, "data": {"path": ok["data"]["path"], "features": []}})
    with pytest.raises(FileNotFoundError, match=r"custom.model.path: .*m.pt does not exist"):
        check_custom_config({**ok, "model": {"path": str(tmp_path / "m.pt")}})


def test_declared_units_label_the_axes_of_a_custom_data_set():
    from conservattack.data.units import feature_units

    assert feature_units("custom", ["px", "py", "n"], {"px": "GeV", "py": "GeV"}) == ["GeV", "GeV", ""]
    assert feature_units("custom", ["px"]) == [""]
    assert feature_units("higgs", ["DER_mass_MMC"], {}) == ["GeV"]
