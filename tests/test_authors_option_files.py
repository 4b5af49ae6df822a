"""Option files written for the MANet authors' train.py / test.py work here unchanged."""
import csv
import os
import subprocess
import sys

from blindsr.options import load_options
from blindsr.utils.paths import REPO_ROOT

# The authors' codes/options/test/test_stage3.yml (their comments dropped), as they ship it.
AUTHORS_TEST_STAGE3 = """\
name: 001_MANet_aniso_x4_test_stage3
suffix: ~
model: blind
distortion: sr
scale: 4
crop_border: ~
gpu_ids: [0]
kernel_size: 21
code_length: 15
sig_min: 0
sig_max: 0
sig: 3.0
sig1: 6
sig2: 1
theta: 0.7853981633974483
rate_iso: 0
sv_mode: 0
test_noise: False
noise: 15
test_jpeg: False
jpeg: 50
pca_path: ./pca_matrix_aniso21_15_x4.pth
cal_lr_psnr: False

datasets:
  test_1:
    name: toy_dataset1
    mode: GT
    dataroot_GT: ../datasets/toy_dataset/HR_si
    dataroot_LQ: ~

network_G:
  which_model_G: MANet_s3
  in_nc: 3
  out_nc: 3
  nf: 64
  nb: 10
  gc: 32
  manet_nf: 128
  manet_nb: 1
  split: 2

path:
  strict_load: true
  pretrain_model_G: ../experiments/pretrained_models/stage3_MANet+RRDB_x4.pth
"""


def test_authors_test_file_loads_unchanged(tmp_path):
    p = tmp_path / 'test_stage3.yml'
    p.write_text(AUTHORS_TEST_STAGE3)
    opt = load_options(p, is_train=False)
    # their paths were relative to codes/: they land in our repository
    assert opt['datasets']['test_1']['dataroot_GT'] == str(REPO_ROOT / 'datasets/toy_dataset/HR_si')
    assert opt['pca_path'].endswith('pca_matrix_aniso21_15_x4.pth') and os.path.isfile(opt['pca_path'])
    assert opt['crop_border'] is None and opt['tile'] is None


def test_authors_test_file_runs_with_their_checkpoint_layout(tmp_path, shared):
    """test.py with the authors' file and a checkpoint in the authors' layout (random weights)."""
    ckpt = shared('golden/manet/manet_s3_random.pth')
    name = f'pytest_authors_s3_{os.getpid()}'
    p = tmp_path / 'test_stage3.yml'
    p.write_text(AUTHORS_TEST_STAGE3.replace('001_MANet_aniso_x4_test_stage3', name))
    # a small crop of each toy image keeps the full-size network quick on CPU
    import cv2
    (tmp_path / 'hr').mkdir()
    for stem in ('toy1', 'toy2'):
        img = cv2.imread(str(REPO_ROOT / 'datasets/toy_dataset/HR_si' / f'{stem}.png'))
        cv2.imwrite(str(tmp_path / 'hr' / f'{stem}.png'), img[64:160, 64:160])
    res = subprocess.run([sys.executable, str(REPO_ROOT / 'codes' / 'test.py'), '--opt', str(p),
                          '--set', f'path.pretrain_model_G={ckpt}',
                          '--set', f'datasets.test_1.dataroot_GT={tmp_path / "hr"}'],
                         capture_output=True, text=True, cwd=str(tmp_path))
    try:
        assert res.returncode == 0, res.stderr[-3000:]
        rows = list(csv.DictReader(open(REPO_ROOT / 'results' / name / 'toy_dataset1' / 'metrics.csv')))
        assert [r['image'] for r in rows] == ['toy1', 'toy2', 'average']
        # random weights: SR is poor but finite; kernel metrics are real numbers, not inf
        assert 0 < float(rows[0]['psnr_y']) < 40 and 0 < float(rows[0]['psnr_k']) < 100
        assert (REPO_ROOT / 'results' / name / 'toy_dataset1' / 'toy1.png').is_file()
    finally:
        import shutil
        shutil.rmtree(REPO_ROOT / 'results' / name, ignore_errors=True)
