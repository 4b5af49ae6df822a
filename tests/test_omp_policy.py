"""Every entry script sets a passive OpenMP wait policy before torch loads (spinning threads
make runs collapse on a shared machine), and a value the user set wins."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / 'codes').glob('*.py'))

# Records OMP_WAIT_POLICY at the moment torch is first imported, runs the script's --help,
# then imports torch itself (a script whose --help never loads torch still must have set it).
PROBE = r'''
import os, runpy, sys
seen = []
def hook(event, args):
    if event == 'import' and args[0] == 'torch' and not seen:
        seen.append(os.environ.get('OMP_WAIT_POLICY'))
sys.addaudithook(hook)
sys.argv = [sys.argv[1], '--help']
try:
    runpy.run_path(sys.argv[0], run_name='__main__')
except SystemExit:
    pass
import torch
print('AT_TORCH_IMPORT=%s' % seen[0])
print('AT_END=%s' % os.environ.get('OMP_WAIT_POLICY'))
'''


def _probe(script, **env_extra):
    env = {k: v for k, v in os.environ.items() if k != 'OMP_WAIT_POLICY'}
    env.update(env_extra, OMP_NUM_THREADS='1')
    r = subprocess.run([sys.executable, '-c', PROBE, str(script)], capture_output=True, text=True,
                       env=env, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return dict(line.split('=', 1) for line in r.stdout.splitlines() if line.startswith(('AT_TORCH_IMPORT=', 'AT_END=')))


def test_the_entry_scripts_are_found():
    assert {'train.py', 'test.py', 'infer.py', 'prepare_testset.py'} <= {p.name for p in SCRIPTS}


@pytest.mark.parametrize('script', SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_entry_script_sets_passive_before_torch(script):
    seen = _probe(script)
    assert seen == {'AT_TORCH_IMPORT': 'PASSIVE', 'AT_END': 'PASSIVE'}


def test_a_value_the_user_set_wins():
    seen = _probe(ROOT / 'codes' / 'train.py', OMP_WAIT_POLICY='ACTIVE')
    assert seen == {'AT_TORCH_IMPORT': 'ACTIVE', 'AT_END': 'ACTIVE'}


def test_the_suite_itself_runs_passive():
    import torch  # noqa: F401  (conftest imported blindsr first)
    assert os.environ.get('OMP_WAIT_POLICY') == 'PASSIVE'
