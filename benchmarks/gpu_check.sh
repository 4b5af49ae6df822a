#!/usr/bin/env bash
# The GPU check, in under 8 minutes on one CUDA device. Run from the repository root:
#
#     bash benchmarks/gpu_check.sh            # everything; the figures for the README at the end
#
# 1. tests/test_cuda.py: CPU-vs-CUDA agreement of the forwards (TF32 off) and three AMP training
#    steps of each blind network (stages 1-3, KULNet) through the real recipe;
# 2. the CUDA-capable parts of the suite (train/test/infer scripts, KULNet, USRNet, FKP) on CPU+CUDA;
# 3. train.py on CUDA, AMP on, 20 iterations of each blind training option file (on the repository's
#    Set5, so that ../shared is not needed), one as a one-process
#    torchrun (DDP) run, and test.py on the result;
# 4. benchmarks/gpu_inference.py: inference time and peak GPU memory at LR 256/512/1024, fp32 and bf16.
# Without CUDA it says so and exits 0: nothing was run.
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/codes${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python}

if ! $PY -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu_check: no CUDA device on this machine: nothing was run"
    exit 0
fi
failed=()
step() {   # step <label> <seconds> <command...>: run with a time limit, record a failure, go on
    local label=$1 limit=$2; shift 2
    echo "=== $label"
    local t0=$SECONDS
    timeout "$limit" "$@"
    local rc=$?
    echo "=== $label: rc $rc, $((SECONDS - t0)) s"
    [ "$rc" -eq 0 ] || failed+=("$label (rc $rc)")
}
$PY -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0))'

step "CUDA tests" 120 $PY -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_registry_and_device.py
step "suite subset" 150 $PY -m pytest -q -p no:cacheprovider -x tests/test_train_test_scripts.py \
    tests/test_kulnet_training.py tests/test_usrnet.py tests/test_infer.py

run=gpucheck_$$
cleanup() { rm -rf "results/${run}"_*; }
trap cleanup EXIT
for f in stage1_demo stage2_cpu_codenorm stage3_cpu_codenorm KULNet_x4_cpu; do
    step "train.py $f, AMP" 90 $PY codes/train.py --opt "options/train/train_$f.yml" \
        --set "name=${run}_$f" --set gpu_ids=[0] --set amp=true --set train.niter=20 --set train.val_freq=10 \
        --set logger.print_freq=5 --set logger.save_checkpoint_freq=20 --set datasets.train.n_workers=2 \
        --set datasets.train.dataroot_GT=datasets/Set5/HR --set datasets.train.batch_size=4 --set datasets.val.dataroot_GT=datasets/toy_dataset/HR_si
done
step "train.py stage 1, torchrun DDP (1 process)" 90 torchrun --standalone --nproc_per_node=1 codes/train.py \
    --opt options/train/train_stage1_demo.yml --launcher pytorch --set "name=${run}_ddp" --set gpu_ids=[0] \
    --set train.niter=20 --set train.val_freq=10 --set logger.save_checkpoint_freq=20
step "test.py stage 3 demo on CUDA" 60 $PY codes/test.py --opt options/test/test_stage3_demo.yml \
    --set "name=${run}_test" --set gpu_ids=[0]

step "inference time and memory" 150 $PY benchmarks/gpu_inference.py

if [ ${#failed[@]} -gt 0 ]; then
    printf 'gpu_check: FAILED: %s\n' "${failed[@]}"
    exit 1
fi
echo "gpu_check: all steps passed"
