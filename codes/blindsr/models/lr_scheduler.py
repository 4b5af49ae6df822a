"""Learning-rate schedules of the MANet authors, computed in closed form.

The authors' schedulers derive each lr from the previous one. Here every lr is a
function of the iteration alone, so a schedule is exact after any number of steps
and resumes from ``state_dict`` without replaying history.

Stepping convention (as in the authors' training loop): the scheduler is stepped
once at the *start* of every iteration, before ``optimizer.step()``; after the
step for iteration ``it`` (``last_epoch == it``) the optimizer holds the lr in
effect at ``it``. A restart listed at ``r`` takes effect at iteration ``r + 1``.

Deviations from the authors, on purpose:

* warm-up (``warmup_iter = w``) multiplies the scheduled lr by ``it / w`` for
  ``it < w``, so it ends exactly at the scheduled value (theirs overrides the lr
  with ``initial_lr * it / w`` and, being recursive, stays at ``(w-1)/w`` of it);
* ``CosineAnnealingLR_Restart`` with no ``restarts`` means "no restart" (theirs
  restarts at iteration 1 and switches to ``T_period[1]``, which fails for a
  single period);
* ``T_period`` must hold one period per segment (``len(restarts) + 1``); theirs
  fails only when the missing period is reached.
"""
import bisect
import math

from torch.optim.lr_scheduler import LRScheduler

from ..options.schema import TRAIN

__all__ = ['MultiStepLR_Restart', 'CosineAnnealingLR_Restart', 'build_scheduler', 'SCHEMES']


def _as_list(value, default):
    """Authors' lists may come as None (use default), a scalar or a sequence."""
    if value is None:
        return list(default)
    if isinstance(value, (int, float)):
        return [value]
    return list(value)


def _restart_table(restarts, weights):
    """Sorted (effective iteration, weight, position in the user's list) triples."""
    if weights is None:
        weights = [1] * len(restarts)
    weights = _as_list(weights, [])
    if len(weights) != len(restarts):
        raise ValueError(f'restarts {restarts} and restart_weights {weights} differ in length '
                         f'({len(restarts)} vs {len(weights)})')
    table = sorted((int(r) + 1, float(w), i) for i, (r, w) in enumerate(zip(restarts, weights)))
    return table


class _ClosedFormLR(LRScheduler):
    """Shared machinery: lr(it) = scheduled(base_lr, it) * warm-up factor."""

    def __init__(self, optimizer, warmup_iter=-1, last_epoch=-1):
        self.warmup_iter = -1 if warmup_iter is None else int(warmup_iter)
        super().__init__(optimizer, last_epoch)

    # subclasses: lr without warm-up for one param group at iteration ``it``
    def _scheduled(self, base_lr, it):
        raise NotImplementedError

    def _restart_starts(self):
        """Iterations at which a restart takes effect (for clear_state)."""
        return ()

    def _latest_restart(self, it):
        """The (effective iteration, weight, index) of the last restart at or before ``it``."""
        pos = bisect.bisect_right([r[0] for r in self._restarts], it) - 1
        return self._restarts[pos] if pos >= 0 else None

    def lr_at(self, it):
        """Learning rates (one per param group) in effect at iteration ``it``."""
        factor = 1.0
        if self.warmup_iter > 0 and it < self.warmup_iter:
            factor = max(it, 0) / self.warmup_iter
        return [self._scheduled(float(base), it) * factor for base in self.base_lrs]

    def get_lr(self):
        return self.lr_at(self.last_epoch)

    _get_closed_form_lr = get_lr

    def step(self, epoch=None):
        """Advance one iteration (or jump to ``epoch``); no order warning, since the
        authors' convention steps the scheduler before the optimizer on purpose."""
        self._step_count = getattr(self, '_step_count', 0) + 1
        self._update_lr(epoch)
        self._after_step()

    def _after_step(self):
        pass


class MultiStepLR_Restart(_ClosedFormLR):
    """Multiply the lr by ``gamma`` at each milestone; restarts reset it to
    ``initial_lr * weight`` and only later milestones apply after a restart.

    Milestones are absolute iterations. ``clear_state`` empties the optimizer's
    state (e.g. Adam moments) when a restart takes effect.
    """

    def __init__(self, optimizer, milestones, restarts=None, weights=None, gamma=0.1,
                 clear_state=False, warmup_iter=-1, last_epoch=-1):
        self.milestones = sorted(int(m) for m in _as_list(milestones, []))
        self.gamma = float(gamma)
        self.clear_state = bool(clear_state)
        # authors: a missing/empty restart list means a (no-op) restart at 0
        restarts = _as_list(restarts, []) or [0]
        self._restarts = _restart_table(restarts, weights)
        super().__init__(optimizer, warmup_iter, last_epoch)

    def _scheduled(self, base_lr, it):
        restart = self._latest_restart(it)
        if restart is None:
            start, weight = 0, 1.0
            n = bisect.bisect_right(self.milestones, it) - bisect.bisect_left(self.milestones, 0)
        else:
            start, weight = restart[0], restart[1]
            # a milestone on the restart iteration itself is overridden by the restart
            n = bisect.bisect_right(self.milestones, it) - bisect.bisect_right(self.milestones, start)
        return base_lr * weight * self.gamma ** n

    def _after_step(self):
        if self.clear_state and any(r[0] == self.last_epoch for r in self._restarts):
            self.optimizer.state.clear()


class CosineAnnealingLR_Restart(_ClosedFormLR):
    """Cosine decay from the segment's peak to ``eta_min`` over ``T_period[i]``
    iterations, with warm restarts.

    Segment 0 starts at iteration 0 with peak ``initial_lr`` and period
    ``T_period[0]``; the restart listed ``i``-th (at ``r``) starts a segment at
    ``r + 1`` with peak ``initial_lr * weights[i]`` and period ``T_period[i + 1]``.
    Within a segment, k iterations after its start:
    ``lr = eta_min + (peak - eta_min) * (1 + cos(pi * k / T)) / 2``.
    If a segment outlives its period the authors' recursion climbs back along the
    cosine with the *unweighted* amplitude ``initial_lr - eta_min``; kept as is.
    """

    def __init__(self, optimizer, T_period, restarts=None, weights=None, eta_min=0,
                 warmup_iter=-1, last_epoch=-1):
        self.T_period = [int(t) for t in _as_list(T_period, [])]
        self.eta_min = 0.0 if eta_min is None else float(eta_min)
        restarts = _as_list(restarts, [])
        self._restarts = _restart_table(restarts, weights)
        if len(self.T_period) < len(restarts) + 1 or any(t <= 0 for t in self.T_period):
            raise ValueError(f'T_period {self.T_period} needs one positive period per segment: '
                             f'{len(restarts) + 1} for restarts {restarts}')
        super().__init__(optimizer, warmup_iter, last_epoch)

    def _scheduled(self, base_lr, it):
        restart = self._latest_restart(it)
        if restart is None:
            start, peak, period = 0, base_lr, self.T_period[0]
        else:
            start, peak, period = restart[0], base_lr * restart[1], self.T_period[restart[2] + 1]
        k = it - start
        if k <= 0:
            return peak
        amplitude = (peak if k <= period else base_lr) - self.eta_min
        return self.eta_min + amplitude * (1 + math.cos(math.pi * k / period)) / 2


SCHEMES = ('MultiStepLR', 'CosineAnnealingLR_Restart')


def build_scheduler(optimizer, train_opt):
    """Scheduler from the authors' ``train`` options (None = their default).

    ``lr_scheme: null`` means a constant lr, as in the authors' code (which then
    builds no scheduler); a constant schedule is returned so warm-up still works.
    """
    def opt(key, default=None):
        value = train_opt.get(key)
        if value is None and key in TRAIN:
            value = TRAIN[key].default      # the option schema holds the defaults
        return default if value is None else value

    scheme = train_opt.get('lr_scheme')
    if scheme is None:
        return MultiStepLR_Restart(optimizer, [], warmup_iter=opt('warmup_iter', -1))
    if scheme == 'MultiStepLR':
        return MultiStepLR_Restart(optimizer, opt('lr_steps', []), restarts=train_opt.get('restarts'),
                                   weights=train_opt.get('restart_weights'), gamma=opt('lr_gamma'),
                                   clear_state=opt('clear_state', False),
                                   warmup_iter=opt('warmup_iter', -1))
    if scheme == 'CosineAnnealingLR_Restart':
        if train_opt.get('T_period') is None:
            raise ValueError('train.T_period is required for train.lr_scheme CosineAnnealingLR_Restart')
        return CosineAnnealingLR_Restart(optimizer, train_opt['T_period'],
                                         restarts=train_opt.get('restarts'),
                                         weights=train_opt.get('restart_weights'),
                                         eta_min=opt('eta_min'), warmup_iter=opt('warmup_iter', -1))
    raise ValueError(f'train.lr_scheme: unknown scheme {scheme!r}; valid: {", ".join(SCHEMES)} '
                     f'(or null for a constant lr)')
