"""Stop a per-image optimisation once its monitored value (e.g. LR reconstruction MSE) stalls."""

__all__ = ['EarlyStopper', 'early_stop_iteration']


class EarlyStopper:
    """Counts iterations without a relative improvement of more than ``min_delta``.

    ``update(iteration, value)`` returns True when ``patience`` consecutive iterations at or
    after ``start`` failed to improve on the best value seen since ``start``.
    """

    def __init__(self, patience, min_delta=1e-3, start=1):
        if patience < 1:
            raise ValueError(f'patience must be >= 1, got {patience}')
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.start = int(start)
        self.best = float('inf')
        self.best_iteration = None
        self.stale = 0

    def update(self, iteration, value):
        if iteration < self.start:
            return False
        if self.best_iteration is None or value < self.best * (1 - self.min_delta):
            self.best, self.best_iteration, self.stale = value, iteration, 0
            return False
        self.stale += 1
        return self.stale >= self.patience


def early_stop_iteration(values, patience, min_delta=1e-3, start=1):
    """Iteration (1-based) at which ``EarlyStopper`` would stop on ``values``, or None.

    Runs are deterministic, so applying the rule to a full run's history tells exactly where an
    early-stopped run would have ended (used by the benchmark).
    """
    stopper = EarlyStopper(patience, min_delta, start)
    for i, v in enumerate(values, 1):
        if stopper.update(i, v):
            return i
    return None
