"""Learning-rate schedules: the authors' values (golden), closed form = stepping,
resume through state_dict, warm-up, param groups, clear_state, the builder."""
import math

import numpy as np
import pytest
import torch

from blindsr.models.lr_scheduler import (CosineAnnealingLR_Restart, MultiStepLR_Restart,
                                         build_scheduler)

# the option files behind each array of schedules.npz (README section f)
GOLDEN_CFG = {
    'stage1': (2e-4, dict(lr_scheme='MultiStepLR', lr_steps=[100000, 150000, 200000, 250000],
                          lr_gamma=0.5)),
    'stage2': (2e-4, dict(lr_scheme='CosineAnnealingLR_Restart', T_period=[120000] * 5,
                          restarts=[120000, 240000, 360000, 480000], restart_weights=[1, 1, 1, 1],
                          eta_min=1e-7)),
    'stage3': (5e-5, dict(lr_scheme='MultiStepLR', lr_steps=[50000, 100000, 150000, 200000, 250000],
                          lr_gamma=0.5)),
    'multistep_restart': (1e-3, dict(lr_scheme='MultiStepLR', lr_steps=[30, 60, 90, 130],
                                     lr_gamma=0.5, restarts=[100], restart_weights=[0.5])),
    'cosine_restart': (1e-3, dict(lr_scheme='CosineAnnealingLR_Restart', T_period=[50, 50, 50],
                                  restarts=[50, 100], restart_weights=[1, 0.5], eta_min=1e-6)),
}


def make_opt(*lrs):
    """Adam with one tiny param group per lr."""
    groups = [{'params': [torch.nn.Parameter(torch.zeros(2))], 'lr': lr} for lr in lrs]
    return torch.optim.Adam(groups)


def run(sched, n):
    """lr of group 0 in effect at iterations 1..n (step at the start of each)."""
    out = []
    for _ in range(n):
        sched.step()
        out.append(sched.optimizer.param_groups[0]['lr'])
    return np.array(out)


@pytest.fixture
def golden(shared):
    return np.load(shared('golden/manet/schedules.npz'))


@pytest.mark.parametrize('name', list(GOLDEN_CFG))
def test_golden_schedules(golden, name):
    lr, cfg = GOLDEN_CFG[name]
    sched = build_scheduler(make_opt(lr), cfg)
    its, ref = golden[f'{name}_its'], golden[f'{name}_lr']
    got = np.array([sched.lr_at(int(i))[0] for i in its])
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=0)


@pytest.mark.parametrize('name', ['multistep_restart', 'cosine_restart'])
def test_golden_by_stepping(golden, name):
    """The stepping convention itself: after the step for iteration it, the
    optimizer holds the golden lr of iteration it."""
    lr, cfg = GOLDEN_CFG[name]
    its, ref = golden[f'{name}_its'], golden[f'{name}_lr']
    assert list(its) == list(range(1, len(its) + 1))
    got = run(build_scheduler(make_opt(lr), cfg), len(its))
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0)


def test_golden_values_by_hand(golden):
    # restart at 100 takes effect at 101 with 1e-3 * 0.5, milestone 130 then halves it
    lr = dict(zip(golden['multistep_restart_its'], golden['multistep_restart_lr']))
    assert (lr[29], lr[30], lr[100], lr[101], lr[130]) == (1e-3, 5e-4, 1.25e-4, 5e-4, 2.5e-4)
    sched = build_scheduler(make_opt(1e-3), GOLDEN_CFG['cosine_restart'][1])
    assert sched.lr_at(50)[0] == pytest.approx(1e-6, rel=1e-12)       # trough = eta_min
    assert sched.lr_at(51)[0] == 1e-3                                  # restart, weight 1
    assert sched.lr_at(101)[0] == 5e-4                                 # restart, weight 0.5
    assert sched.lr_at(126)[0] == pytest.approx(1e-6 + (5e-4 - 1e-6) / 2, rel=1e-12)


def _authors_cosine_recursion(base, T_period, restarts, weights, eta_min, n):
    """Independent re-statement of the authors' recursive rule, for the closed form."""
    starts = [r + 1 for r in restarts]
    lr, last, t_max, out = base, 0, T_period[0], []
    for e in range(1, n + 1):
        if e in starts:
            i = starts.index(e)
            last, t_max, lr = e, T_period[i + 1], base * weights[i]
        elif (e - last - 1 - t_max) % (2 * t_max) == 0:
            lr = lr + (base - eta_min) * (1 - math.cos(math.pi / t_max)) / 2
        else:
            lr = ((1 + math.cos(math.pi * (e - last) / t_max))
                  / (1 + math.cos(math.pi * (e - last - 1) / t_max)) * (lr - eta_min) + eta_min)
        out.append(lr)
    return np.array(out)


def test_cosine_past_its_period_matches_recursion():
    """A segment longer than its period climbs back with the unweighted amplitude."""
    ref = _authors_cosine_recursion(1e-3, [10, 8], [5], [0.5], 1e-5, 60)
    got = run(CosineAnnealingLR_Restart(make_opt(1e-3), [10, 8], [5], [0.5], eta_min=1e-5), 60)
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-18)
    # got[i] is iteration i + 1; segment 1 starts at it = 6 with period 8
    assert got[14 - 1] == pytest.approx(1e-5, rel=1e-12)      # its trough
    assert got[22 - 1] == pytest.approx(1e-3, rel=1e-12)      # back at base_lr, not 0.5 * base


@pytest.mark.parametrize('name', ['stage2', 'multistep_restart'])
def test_state_dict_round_trip(name):
    lr, cfg = GOLDEN_CFG[name]
    n_before = 40 if name == 'multistep_restart' else 1000
    ref_sched = build_scheduler(make_opt(lr), cfg)
    reference = run(ref_sched, n_before + 80)

    first = build_scheduler(make_opt(lr), cfg)
    run(first, n_before)
    state = first.state_dict()
    resumed = build_scheduler(make_opt(lr), cfg)   # fresh, at iteration 0
    resumed.load_state_dict(state)
    assert resumed.last_epoch == n_before
    np.testing.assert_array_equal(run(resumed, 80), reference[n_before:])


def test_resume_mid_schedule_without_replay():
    """Loading a state far into training is exact (closed form, no history)."""
    lr, cfg = GOLDEN_CFG['stage2']
    sched = build_scheduler(make_opt(lr), cfg)
    state = sched.state_dict()
    state['last_epoch'] = 359998
    sched.load_state_dict(state)
    got = run(sched, 4)       # iterations 359999..360002; segment started at 240001
    cos_lr = [1e-7 + (2e-4 - 1e-7) * (1 + math.cos(math.pi * k / 120000)) / 2 for k in (119998, 119999, 1)]
    expected = cos_lr[:2] + [2e-4, cos_lr[2]]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize('cls_cfg', [
    (MultiStepLR_Restart, dict(milestones=[3, 8], gamma=0.5)),
    (CosineAnnealingLR_Restart, dict(T_period=[20])),
])
def test_warmup_ends_at_scheduled_value(cls_cfg):
    cls, kw = cls_cfg
    plain = run(cls(make_opt(1e-3), **kw), 15)
    warm = run(cls(make_opt(1e-3), warmup_iter=5, **kw), 15)
    factors = np.array([1, 2, 3, 4]) / 5
    np.testing.assert_allclose(warm[:4], plain[:4] * factors, rtol=1e-12)
    np.testing.assert_array_equal(warm[4:], plain[4:])    # from it = 5 on: unchanged
    assert warm[3] < warm[4]


def test_multiple_param_groups():
    lr, cfg = GOLDEN_CFG['multistep_restart']
    sched = build_scheduler(make_opt(1e-3, 3e-5), cfg)
    for _ in range(101):
        sched.step()
    lrs = [g['lr'] for g in sched.optimizer.param_groups]
    assert lrs == pytest.approx([1e-3 * 0.5, 3e-5 * 0.5], rel=1e-12)
    assert sched.get_last_lr() == lrs
    sched = CosineAnnealingLR_Restart(make_opt(2e-4, 1e-4), [100], eta_min=0)
    run(sched, 50)
    assert [g['lr'] for g in sched.optimizer.param_groups] == pytest.approx([1e-4, 5e-5], rel=1e-12)


def _adam_step(opt):
    for g in opt.param_groups:
        for p in g['params']:
            p.grad = torch.ones_like(p)
    opt.step()


@pytest.mark.parametrize('clear', [True, False])
def test_clear_state_at_restart(clear):
    opt = make_opt(1e-3)
    sched = MultiStepLR_Restart(opt, [5], restarts=[3], weights=[1], clear_state=clear)
    for _ in range(3):          # iterations 1..3
        sched.step()
        _adam_step(opt)
    assert len(opt.state) == 1
    sched.step()                # iteration 4 = restart at 3 takes effect
    assert (len(opt.state) == 0) is clear
    _adam_step(opt)             # Adam still works after the reset
    param = opt.param_groups[0]['params'][0]
    assert int(opt.state[param]['step']) == (1 if clear else 4)


def test_no_order_warning_when_stepping_first(recwarn):
    sched = build_scheduler(make_opt(1e-3), GOLDEN_CFG['stage1'][1])
    sched.step()
    sched.step()
    assert not [w for w in recwarn if 'lr_scheduler' in str(w.message)]


def test_builder_defaults_and_null_scheme():
    # lr_scheme null: constant lr (authors build no scheduler), warm-up honoured
    sched = build_scheduler(make_opt(1e-3), {'lr_scheme': None, 'warmup_iter': 4})
    np.testing.assert_allclose(run(sched, 6), [2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3])
    # nulls take the option schema's defaults, the values of the authors' shipped files
    # (gamma 0.5, eta_min 1e-7, no restart, no warm-up): one place for defaults
    sched = build_scheduler(make_opt(1.0), {'lr_scheme': 'MultiStepLR', 'lr_steps': [2],
                                            'lr_gamma': None, 'restarts': None,
                                            'restart_weights': None, 'warmup_iter': None,
                                            'clear_state': None})
    np.testing.assert_allclose(run(sched, 3), [1.0, 0.5, 0.5])
    sched = build_scheduler(make_opt(1.0), {'lr_scheme': 'CosineAnnealingLR_Restart',
                                            'T_period': [4], 'eta_min': None})
    np.testing.assert_allclose(run(sched, 4), [1e-7 + (1 - 1e-7) * (1 + math.cos(math.pi * k / 4)) / 2
                                               for k in range(1, 5)], atol=1e-15)


def test_builder_errors():
    with pytest.raises(ValueError, match=r'train\.lr_scheme.*CosineAnnealingLR_Restart'):
        build_scheduler(make_opt(1e-3), {'lr_scheme': 'StepLR'})
    with pytest.raises(ValueError, match=r'train\.T_period'):
        build_scheduler(make_opt(1e-3), {'lr_scheme': 'CosineAnnealingLR_Restart'})
    with pytest.raises(ValueError, match='T_period'):
        CosineAnnealingLR_Restart(make_opt(1e-3), [50], restarts=[50])
    with pytest.raises(ValueError, match='restart_weights'):
        MultiStepLR_Restart(make_opt(1e-3), [10], restarts=[5, 8], weights=[1])
