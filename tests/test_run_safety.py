"""Nothing the user made is lost or overwritten: failed starts, archives, inputs, interrupts."""
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from blindsr.utils.files import archive_folder, archives_of
from blindsr.utils.paths import REPO_ROOT
from test_train_test_scripts import TRAIN, run, run_name, write_opt  # noqa: F401  (fixture)


def tree_hash(root):
    """Hash of every path and file content under ``root``: any change shows."""
    h = hashlib.sha256()
    for p in sorted(Path(root).rglob('*')):
        h.update(str(p.relative_to(root)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def results_listing(name):
    return sorted(p.name for p in (REPO_ROOT / 'results').glob(f'{name}*'))


def test_failed_fresh_start_leaves_the_run_untouched(tmp_path, capsys, run_name):
    """A typo in a data path must not archive the earlier run; resume then continues it."""
    from blindsr.commands import train
    opt = write_opt(tmp_path, run_name, niter=2, save_freq=2)
    run([TRAIN, '--opt', str(opt)])
    root = REPO_ROOT / 'results' / run_name
    broken = tmp_path / '2.state'
    broken.write_bytes((root / 'training_state' / '2.state').read_bytes()[:100])
    before, listing = tree_hash(root), results_listing(run_name)
    for bad in (['--set', f'datasets.train.dataroot_GT={tmp_path / "typo"}'],
                ['--set', f'datasets.val.dataroot_GT={tmp_path / "typo"}'],
                ['--set', 'path.pretrain_model_G=results/none/none.pth'],
                ['--resume', str(tmp_path / 'none.state')],
                ['--resume', str(broken)]):
        assert train.main(['--opt', str(opt)] + bad) == 2, bad
        err = capsys.readouterr().err
        assert err.strip().splitlines()[-1].startswith('error: ') and 'Traceback' not in err
        assert tree_hash(root) == before, bad
        assert results_listing(run_name) == listing, bad
    res = run([TRAIN, '--opt', str(opt), '--resume', 'auto', '--set', 'train.niter=3'])
    assert 'Resumed from' in res.stderr and 'starting afresh' not in res.stderr


def test_resume_auto_names_the_archives_when_the_run_has_none(tmp_path, run_name):
    """A run moved to an archive is not silently retrained from 0: the WARNING names the archive."""
    opt = write_opt(tmp_path, run_name, niter=1, save_freq=1)
    run([TRAIN, '--opt', str(opt)])
    run([TRAIN, '--opt', str(opt)])            # a fresh start archives the first run
    archives = archives_of(REPO_ROOT / 'results' / run_name)
    assert len(archives) == 1 and (archives[0] / 'training_state' / '1.state').is_file()
    import shutil
    shutil.rmtree(REPO_ROOT / 'results' / run_name / 'training_state')
    res = run([TRAIN, '--opt', str(opt), '--resume', 'auto'])
    line = next(ln for ln in res.stderr.splitlines() if 'starting afresh' in ln)
    assert 'WARNING' in line and str(archives[0]) in line


def test_archives_are_capped_oldest_removed(tmp_path):
    """At most five archives per name; the oldest go first, other names are left alone."""
    root = tmp_path / 'run'
    other = tmp_path / 'runner_archived_000000-000000'
    other.mkdir()
    made = []
    for i in range(7):
        root.mkdir()
        (root / 'f.txt').write_text(str(i))
        made.append(archive_folder(root, keep=5))
        os.utime(made[-1], (1000 + i, 1000 + i))
    assert not root.exists()
    kept = archives_of(root)
    assert [p.name for p in kept] == [p.name for p in made[2:]]
    assert [(p / 'f.txt').read_text() for p in kept] == ['2', '3', '4', '5', '6']
    assert other.is_dir()
    assert archive_folder(root) is None            # nothing there: nothing archived
    root.mkdir()
    assert archive_folder(root) is None            # empty: nothing archived


def _photo_folder(folder):
    import cv2
    folder.mkdir(parents=True)
    lr = cv2.imread(str(REPO_ROOT / 'datasets' / 'toy_dataset' / 'LR_mode0_noise0' / 'toy1.png'))
    cv2.imwrite(str(folder / 'photo.png'), lr[:12, :12])
    cv2.imwrite(str(folder / 'photo.jpg'), lr[12:24, :12])
    cv2.imwrite(str(folder / 'other.png'), lr[24:36, :12])
    return folder


@pytest.mark.parametrize('where', ['same', 'inside', 'file_folder'])
def test_infer_refuses_an_output_over_the_inputs(tmp_path, capsys, where):
    """--output equal to / inside --input (with --overwrite) must not touch a single input byte."""
    from blindsr.commands import infer
    from test_infer import S3, _checkpoint
    photos = _photo_folder(tmp_path / 'photos')
    before = tree_hash(photos)
    ckpt = _checkpoint(tmp_path / 'models', S3)
    inp, out = {'same': (photos, photos), 'inside': (photos, photos / 'sr'),
                'file_folder': (photos / 'photo.jpg', photos)}[where]
    code = infer.main(['--input', str(inp), '--model', str(ckpt), '--output', str(out), '--overwrite',
                       '--device', 'cpu'])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith('error: ') and str(out) in err[-1] and str(inp) in err[-1]
    assert tree_hash(photos) == before


def test_infer_inputs_sharing_a_stem_get_their_own_outputs(tmp_path, one_thread):
    """photo.png and photo.jpg would both write photo.png: each gets its own name."""
    from blindsr.inference.runner import Inference, output_stems, super_resolve
    from blindsr.inference.checkpoint_options import checkpoint_options
    from blindsr.utils.device import device_from_name
    from blindsr.utils.image_io import list_images
    from test_infer import S3, _checkpoint
    photos = _photo_folder(tmp_path / 'photos')
    paths = list_images(photos)
    assert sorted(output_stems(paths).values()) == ['other', 'photo_jpg', 'photo_png']
    clash = [Path('a/x.png'), Path('b/x.png'), Path('x_png.tif')]
    assert len(set(output_stems(clash).values())) == 3
    inference = Inference(checkpoint_options(_checkpoint(tmp_path / 'models', S3)), device_from_name('cpu'))
    out = tmp_path / 'out'
    s = super_resolve(inference, paths, out)
    assert len(s.done) == 3 and not s.failed
    assert sorted(p.name for p in out.glob('*.png')) == ['other.png', 'photo_jpg.png', 'photo_png.png']
    assert (out / 'photo_jpg.png').read_bytes() != (out / 'photo_png.png').read_bytes()


def test_sigint_saves_the_current_iteration_and_resume_removes_stale_temporaries(tmp_path, run_name):
    """Ctrl-C must not lose the iterations since the last checkpoint; a killed save's temp is cleaned."""
    import re
    import torch
    opt = write_opt(tmp_path, run_name, niter=100000, save_freq=100000)
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.Popen([sys.executable, TRAIN, '--opt', str(opt)], stderr=subprocess.PIPE, text=True,
                            env=env, cwd='/')
    lines = []
    try:
        for line in proc.stderr:
            lines.append(line)
            if re.search(r'iter:\s+3,', line):
                proc.send_signal(signal.SIGINT)
                break
        lines += proc.stderr.readlines()
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = ''.join(lines)
    assert code == 130, err[-2000:]
    m = re.search(r'resume with --resume auto from iteration (\d+)', err)
    assert m, err[-2000:]
    n = int(m.group(1))
    assert n >= 3
    assert n == max(int(x) for x in re.findall(r'iter:\s+(\d+),', err))
    root = REPO_ROOT / 'results' / run_name
    state = torch.load(root / 'training_state' / f'{n}.state', weights_only=False)
    assert state['iter'] == n
    stale = [root / 'training_state' / f'.{n + 1}.state.x1y2.tmp', root / 'models' / f'.{n + 1}_G.pth.x1y2.tmp']
    for p in stale:
        p.write_bytes(b'half a checkpoint')
    res = run([TRAIN, '--opt', str(opt), '--resume', 'auto', '--set', f'train.niter={n + 1}'])
    assert f'iteration {n}' in res.stderr and 'Resumed from' in res.stderr
    for p in stale:
        assert not p.exists() and f'removed {p}' in res.stderr
    assert len(losses_of(res.stderr)) == 1


def losses_of(stderr):
    import re
    return re.findall(r'l_ker: ([0-9.e+-]+)', stderr)


def _bad_checkpoints(folder):
    """A good stage-1 checkpoint and the ways one goes wrong."""
    import torch
    from test_infer import S1, _checkpoint
    good = _checkpoint(folder / 'good', S1)
    sd = torch.load(good, weights_only=True)
    bad = {}
    bad['wrong_keys'] = folder / 'wrong_keys.pth'
    torch.save({f'other.{k}': v for k, v in sd.items()}, bad['wrong_keys'])
    bad['wrong_shapes'] = folder / 'wrong_shapes.pth'
    torch.save({k: torch.zeros(v.numel() + 1) for k, v in sd.items()}, bad['wrong_shapes'])
    bad['truncated'] = folder / 'truncated.pth'
    bad['truncated'].write_bytes(good.read_bytes()[:len(good.read_bytes()) // 2])
    bad['empty'] = folder / 'empty.pth'
    bad['empty'].write_bytes(b'')
    bad['not_torch'] = folder / 'not_torch.pth'
    bad['not_torch'].write_text('these are not weights\n')
    return good, sd, bad


@pytest.mark.parametrize('case, strict, message', [
    ('wrong_keys', 'true', 'does not match MANet_s1'),
    ('wrong_shapes', 'true', 'of another shape'),
    ('wrong_keys', 'false', 'no tensor matches MANet_s1'),
    ('wrong_shapes', 'false', 'no tensor matches MANet_s1'),
    ('truncated', 'true', 'not a readable checkpoint'),
    ('empty', 'true', 'empty file (0 bytes)'),
    ('not_torch', 'false', 'not a readable checkpoint'),
])
def test_bad_checkpoint_is_one_line_exit_2(tmp_path, capsys, run_name, case, strict, message):
    """A checkpoint that cannot be used stops train.py with one line naming the file, not a traceback."""
    from blindsr.commands import train
    _, _, bad = _bad_checkpoints(tmp_path)
    opt = write_opt(tmp_path, run_name, path=f'{{pretrain_model_G: {bad[case]}, strict_load: {strict}}}')
    assert train.main(['--opt', str(opt)]) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith('error: ') and str(bad[case]) in last and message in last, err[-2000:]
    assert 'Traceback' not in err
    assert not (REPO_ROOT / 'results' / run_name).exists()


def test_partial_match_is_a_warning_with_counts(tmp_path, caplog):
    """strict_load false: a partial match loads what matches and says what did not, at WARNING."""
    import logging
    import torch
    from blindsr.archs.build import build_network
    from blindsr.utils.checkpoint_io import load_state_dict
    from test_infer import S1
    _, sd, _ = _bad_checkpoints(tmp_path)
    keys = list(sd)
    part = {k: v for k, v in sd.items() if k != keys[0]}
    part['stray.weight'] = torch.zeros(1)
    net = build_network({'model': 'blind', 'scale': 4, 'kernel_size': 21, 'code_length': 15, 'network_G': dict(S1),
                         'pca_path': str(REPO_ROOT / 'pretrained_models' / 'pca_matrix_aniso21_15_x4.pth')})
    with caplog.at_level(logging.INFO, logger='blindsr.utils.checkpoint_io'):
        missing, unexpected = load_state_dict(net, part, strict=False)
    assert missing == [keys[0]] and unexpected == ['stray.weight']
    warn = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warn) == 1
    msg = warn[0].getMessage()
    assert f'{len(keys) - 1}/{len(keys)} tensors loaded' in msg and keys[0] in msg and 'stray.weight' in msg
    assert torch.equal(net.state_dict()[keys[1]], sd[keys[1]])


def test_a_failed_save_is_one_line_naming_the_file(tmp_path, monkeypatch):
    """A full disk at a checkpoint save: a SaveError naming the file (exit 2 via run_cli), no temporary left."""
    import errno
    import torch
    from blindsr.cli import run_cli
    from blindsr.utils.files import SaveError, atomic_torch_save

    def full(obj, f, *a, **k):
        raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(torch, 'save', full)
    target = tmp_path / 'models' / '10_G.pth'
    with pytest.raises(SaveError, match=f'cannot write {target}: No space left on device'):
        atomic_torch_save({}, target)
    assert list(target.parent.iterdir()) == []
    assert run_cli(lambda: atomic_torch_save({}, target)) == 2
    (tmp_path / 'file').write_text('x')
    with pytest.raises(SaveError, match='cannot write'):
        atomic_torch_save({}, tmp_path / 'file' / 'x.pth')
