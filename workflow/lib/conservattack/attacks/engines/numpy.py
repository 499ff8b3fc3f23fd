"""The numpy reference engine: events visited one after another with ``AttackState.choose`` and
``apply`` (``pull_back`` for fooled events under ``optimize_already_fooled``)."""

from __future__ import annotations


def visit(state, order, sign_of, signs, bar, from_scratch: bool = False) -> int:
    """Visit the events ``order`` (increasing index); ``sign_of`` maps an event to its row of
    ``signs``, an event without one is pulled back. ``from_scratch``: recompute every statistic
    before each event (the naive engine). Returns the number of events that moved."""
    moved = 0
    for i in order.tolist():
        if from_scratch:  # the paper's cost: every statistic from scratch before each event
            state.hist.resync(state.X)
            state.pearson.resync(state.X)
        if i in sign_of and state.budgets is not None:
            moved += state.move_calibrated(i, signs[sign_of[i]])
        elif i in sign_of:
            moved += state.apply(i, state.choose(state.X[i], signs[sign_of[i]]))
        else:
            moved += state.pull_back(i)
        bar.update(1)
    return moved
