"""The package installs: its console commands exist, each codes/*.py script is one of them, and
``import blindsr`` works from any folder (the README's set-up installs it editable)."""
import importlib
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / 'pyproject.toml').read_text())['project']


def test_every_console_command_points_at_a_main():
    commands = PROJECT['scripts']
    assert set(commands) == {'blindsr-train', 'blindsr-test', 'blindsr-infer', 'blindsr-prepare-testset',
                             'blindsr-explore-kernels', 'blindsr-benchmark'}
    for target in commands.values():
        module, func = target.split(':')
        assert callable(getattr(importlib.import_module(module), func)), target


def test_each_entry_script_is_a_console_command():
    modules = {t.split(':')[0].rsplit('.', 1)[1] for t in PROJECT['scripts'].values()}
    assert {p.stem for p in (ROOT / 'codes').glob('*.py')} == modules
    for p in (ROOT / 'codes').glob('*.py'):
        assert f'from blindsr.commands.{p.stem} import main' in p.read_text(), p.name


def test_import_from_any_folder(tmp_path):
    r = subprocess.run([sys.executable, '-c', 'import blindsr; print(blindsr.__file__)'], cwd=tmp_path,
                       capture_output=True, text=True, env={'PATH': '/usr/bin:/bin'})
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()).parent.parent.name == 'codes'


def test_a_console_command_runs(tmp_path):
    exe = Path(sys.executable).parent / 'blindsr-train'
    r = subprocess.run([str(exe), '--help'], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith('usage: blindsr-train') and '--resume' in r.stdout
