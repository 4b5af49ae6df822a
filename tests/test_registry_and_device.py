"""Registries find components by name and fail helpfully; the device falls back to CPU once."""
import logging

import pytest
import torch

from blindsr.registry import ARCHS, DATASETS, LOSSES, MODELS, Registry
from blindsr.utils.device import select_device


def test_components_are_discovered_by_file_suffix():
    assert {'MANet_s1', 'MANet_s2', 'MANet_s3'} <= set(ARCHS.names())
    assert {'GT', 'LQ', 'GTLQ'} <= set(DATASETS.names())
    assert {'l1', 'l2', 'cb'} <= set(LOSSES.names())
    assert 'blind' in MODELS.names()


def test_unknown_name_lists_what_exists_and_suggests():
    with pytest.raises(KeyError) as e:
        ARCHS.get('MANet_S1')
    msg = e.value.args[0]
    assert "unknown architecture 'MANet_S1'" in msg and "Did you mean 'MANet_s1'?" in msg
    assert 'MANet_s2' in msg and 'MANet_s3' in msg


def test_registering_a_name_twice_fails():
    reg = Registry('thing', 'blindsr.losses', '_nothing')

    @reg.register('a')
    class A:
        pass

    with pytest.raises(KeyError, match="thing 'a' is registered twice"):
        @reg.register('a')
        class B:
            pass
    assert reg.get('a') is A


def test_one_new_file_and_a_decorator_adds_an_architecture(tmp_path, monkeypatch):
    pkg = tmp_path / 'myarchs'
    pkg.mkdir()
    (pkg / '__init__.py').write_text('')
    (pkg / 'tiny_arch.py').write_text(
        'import torch\nfrom conftest_registry import REG\n\n'
        '@REG.register()\nclass Tiny(torch.nn.Module):\n    pass\n')
    (pkg / 'helpers.py').write_text('raise RuntimeError("not imported: no _arch suffix")\n')
    reg = Registry('architecture', 'myarchs', '_arch')
    import sys
    import types
    sys.modules['conftest_registry'] = types.SimpleNamespace(REG=reg)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert reg.names() == ['Tiny']


def test_cpu_fallback_warns_once(caplog, monkeypatch):
    import blindsr.utils.device as dev
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(dev, '_warned', False)
    with caplog.at_level(logging.WARNING):
        assert select_device([0]) == torch.device('cpu')
        assert select_device([0, 1]) == torch.device('cpu')
    warnings = [r for r in caplog.records if 'CUDA is not available' in r.getMessage()]
    assert len(warnings) == 1
    assert select_device(None) == torch.device('cpu') and select_device([]) == torch.device('cpu')


def test_no_hard_coded_cuda_in_library_code():
    import re
    from blindsr.utils.paths import CODES_DIR
    bad = []
    for p in CODES_DIR.rglob('*.py'):
        for i, line in enumerate(p.read_text().splitlines(), 1):
            if re.search(r"\.cuda\(\)|device\(['\"]cuda['\"]\)|['\"]cuda:\d['\"]", line):
                bad.append(f'{p}:{i}: {line.strip()}')
    assert not bad, bad


def test_method_package_registers_and_a_broken_module_spares_the_others(tmp_path, monkeypatch, caplog):
    root = tmp_path / 'myroot'
    for sub in ('archs', 'mymethod'):
        (root / sub).mkdir(parents=True)
        (root / sub / '__init__.py').write_text('')
    (root / '__init__.py').write_text('')
    (root / 'archs' / 'good_arch.py').write_text(
        'from conftest_registry2 import REG\n\n@REG.register()\nclass Good:\n    pass\n')
    (root / 'mymethod' / 'mine_arch.py').write_text(
        'from conftest_registry2 import REG\n\n@REG.register()\nclass Mine:\n    pass\n')
    (root / 'mymethod' / 'broken_arch.py').write_text('raise ImportError("a missing dependency")\n')
    reg = Registry('architecture', 'myroot', '_arch')
    import sys
    import types
    sys.modules['conftest_registry2'] = types.SimpleNamespace(REG=reg)
    monkeypatch.syspath_prepend(str(tmp_path))
    with caplog.at_level(logging.WARNING):
        assert reg.names() == ['Good', 'Mine']
    assert 'myroot.mymethod.broken_arch' in caplog.text and 'a missing dependency' in caplog.text
    with pytest.raises(KeyError, match=r"myroot\.mymethod\.broken_arch failed to import: ImportError: a missing"):
        reg.get('Broken')


def test_a_lookup_imports_only_the_module_that_declares_the_name(tmp_path, monkeypatch):
    pkg = tmp_path / 'lazyroot' / 'methods'
    pkg.mkdir(parents=True)
    (tmp_path / 'lazyroot' / '__init__.py').write_text('')
    (pkg / '__init__.py').write_text('')
    (pkg / 'wanted_model.py').write_text(
        'from conftest_registry3 import MODELS\n\n@MODELS.register("wanted")\nclass W:\n    pass\n')
    (pkg / 'broken_model.py').write_text(
        'raise RuntimeError("must not be imported")\nfrom conftest_registry3 import MODELS\n\n'
        '@MODELS.register()\nclass Other:\n    pass\n')
    reg = Registry('model', 'lazyroot', '_model', 'MODELS')
    import sys
    import types
    sys.modules['conftest_registry3'] = types.SimpleNamespace(MODELS=reg)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert reg.names() == ['Other', 'wanted']          # read off the sources, nothing imported
    assert 'lazyroot.methods.broken_model' not in sys.modules
    assert reg.get('wanted').__name__ == 'W'
    assert 'lazyroot.methods.broken_model' not in sys.modules and not reg.failed
    with pytest.raises(KeyError, match='must not be imported'):
        reg.get('Other')


def test_validating_a_manet_option_file_imports_no_fkp_model():
    import subprocess
    import sys
    from blindsr.utils.paths import REPO_ROOT
    code = ('import sys; sys.path.insert(0, "codes"); from blindsr.options import load_options; '
            'load_options("options/test/test_stage3_demo.yml", is_train=False); '
            'print(sorted(m for m in sys.modules if m.startswith("blindsr.models.") or m.startswith("blindsr.fkp")))')
    res = subprocess.run([sys.executable, '-c', code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    loaded = res.stdout.strip()
    assert 'blindsr.models.blind_model' in loaded
    assert 'dipfkp' not in loaded and 'kernelgan' not in loaded and 'fkp_prior' not in loaded, loaded
