"""Figure helpers of conservattack.plots.figures that make a choice: the point clouds' subsampling and the
significance marks of the repeated-misclassification figure."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from conservattack.plots import figures as plots  # noqa: E402


def shown_points(fig):
    """The (x, y) points of every scatter layer, panel by panel."""
    return [np.asarray(c.get_offsets()) for ax in fig.axes for c in ax.collections]


def test_point_clouds_subsample_with_the_given_seed():
    rng = np.random.default_rng(1)
    signal, clean = rng.random((500, 2)), rng.random((300, 2))
    adv, fooled = clean + 0.01, rng.random(300) < 0.5
    layers, same, other = (shown_points(plots.point_clouds(signal, clean, adv, fooled, ["a", "b"], n_max=200,
                                                           seed=seed)) for seed in (3, 3, 4))
    n_fooled = int(fooled.sum())  # below n_max: all shown
    assert [len(p) for p in layers] == [200, 200, 200, n_fooled, n_fooled, n_fooled]
    assert all(np.array_equal(a, b) for a, b in zip(layers, same))  # the same seed, the same points
    assert not np.array_equal(layers[0], other[0])  # another seed, another subsample
    for a in layers[0]:  # a subsample of the layer's own points
        assert (np.abs(signal - a).sum(axis=1) < 1e-12).any()
    passed = rng.random(300) < 0.5
    det = {s: shown_points(plots.detector_point_clouds(clean, adv, fooled, passed, ["a", "b"], n_max=50, seed=s))
           for s in (3, 4)}
    assert [len(p) for p in det[3]] == [50, 50, 50] and not np.array_equal(det[3][0], det[4][0])
    plt.close("all")


def test_repeated_misclassification_marks_each_significant_bin_with_its_z():
    from conservattack.studies.detection import repeated_misclassification

    flags = np.zeros((4, 400), dtype=bool)
    flags[:, :40] = True  # 40 events flagged in all 4 runs: a deep excess at k = 4
    table = repeated_misclassification(flags)
    texts = [t.get_text() for t in plots.repeated_misclassification(table).axes[0].texts]
    sig = table[table.significant]
    assert texts == [f"{z:.1f}$\\sigma$" for z in sig.z_value] and len(sig) >= 1
    plt.close("all")


def test_marginal_ratio_panels_carry_the_poisson_uncertainty_of_both_histograms():
    ratio, sigma = plots.ratio_with_uncertainty([4, 9, 0, 5], [1, 9, 3, 0])
    np.testing.assert_allclose(ratio[:3], [4, 1, 0])
    np.testing.assert_allclose(sigma[:2], [4 * np.sqrt(1 / 4 + 1), np.sqrt(2 / 9)])
    assert np.isnan(sigma[2]) and np.isnan(ratio[3]) and np.isnan(sigma[3])
    rng = np.random.default_rng(0)
    clean = rng.normal(size=(2000, 1))
    fig = plots.marginals(clean, clean + 0.01, ["x"], [0.01], 20)
    bottom = fig.axes[1]
    bars = [c for c in bottom.containers if type(c).__name__ == "ErrorbarContainer"]
    assert len(bars) == 1 and bars[0].has_yerr  # error bars, one per bin with counts
    plt.close("all")


def test_validation_figure_shows_both_p_value_distributions_and_pull_matrices():
    from conservattack.plots.validation import pull_matrix, validation
    from conservattack.studies.validation import attack_edges, validate_pair

    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(500, 3)), rng.normal(size=(600, 3))
    table, summary = validate_pair(X, X + 0.3, Y, attack_edges(X, 10), resamples=20, seed=0, features=list("abc"))
    M = pull_matrix(table, list("abc"), "adversarial")
    t = table.set_index(["item", "test"])
    assert M[0, 2] == M[2, 0] == t.loc[("a|c", "pull"), "statistic_adversarial"] and np.isnan(M[1, 1])
    fig = validation(table, summary, list("abc"))
    legends = [t.get_text() for ax in fig.axes[:2] for t in ax.get_legend().get_texts()]
    assert any(s.startswith("clean") for s in legends) and any(s.startswith("adversarial") for s in legends)
    plt.close("all")
