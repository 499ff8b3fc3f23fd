"""The size-scaling figure (conservattack.plots.scaling): a panel per metric against the size on a
log axis, a line per rule configuration, the paper's number, and a stand-in said on every panel."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from conservattack.plots.scaling import save, scaling_figure  # noqa: E402


def table() -> pd.DataFrame:
    rows = []
    for config, fr in (("exact", 0.1), ("reference_c1", 0.3), ("reference_c4", 0.5)):
        for k, size in enumerate((500, 1000, 2000, 5000, 40000)):
            rows.append({"config": config, "size": size, "fooling_ratio": fr * (k + 1) / 5,
                         "jsd_mean": 0.001 * k, "jsd_max": 0.002 * k, "relative_fn": 0.01 * k})
    return pd.DataFrame(rows)


def test_panels_lines_reference_and_stand_in_label(tmp_path):
    fig = scaling_figure(table(), {"fooling_ratio": 0.89}, title="Higgs STAND-IN", standin=True)
    fr, jsd, fn = fig.axes[:3]
    assert fr.get_xscale() == "log" and fr.get_ylabel() == "Fooling ratio" and "stand-in" in fr.get_xlabel()
    labels = [t.get_text() for t in fr.get_legend().get_texts()]
    assert labels == ["exact rule", "reference rule, 1 chunk", "reference rule, 4 chunks", "paper 0.89 (full data)"]
    assert all(ax.get_legend().get_title().get_text() == "stand-in data" for ax in (fr, jsd, fn))
    assert len(jsd.get_lines()) == 6 and len(fn.get_lines()) == 3  # the mean and the max JSD
    assert list(fr.get_lines()[2].get_ydata()) == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert fig._suptitle.get_text() == "Higgs STAND-IN"
    assert [t.get_text() for t in fr.get_xticklabels()] == ["500", "1k", "2k", "5k", "40k"]
    png, pdf = save(fig, tmp_path / "scaling_stand-in.png")
    assert png.stat().st_size > 1000 and pdf.stat().st_size > 1000
    real = scaling_figure(table(), {}, standin=False)
    assert real.axes[0].get_legend().get_title().get_text() == "" and "stand-in" not in real.axes[0].get_xlabel()
    plt.close("all")
