"""How strongly does a stage-2 RRDB-SFT see its kernel? Signal sizes and gradients at the SFT inputs.

    python scripts/sft_conditioning.py --model pretrained_models/MANet_s2_x4_SunHays80.pth \
        --set ../shared/datasets/Sun_Hays80/HR

For a batch of HR crops, each blurred with a random training kernel (the authors' distribution),
it prints per SFT layer: the spread across kernels of the code map the layer is fed (the only
thing that tells kernels apart) against the spread of its input features; how much the layer's
output moves when the code of another kernel is fed with the same features; and the RMS of the
L1 loss gradient and of the weights on the code-input and the feature-input channels of the SFT
convs. A restorer that ignores its kernel shows a code spread and a response far below the
features', and code-channel gradients far below the feature channels'.
"""
import argparse
import sys

from blindsr.cli import run_cli


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Code-map spread, SFT response and SFT gradients of a stage-2 network.')
    p.add_argument('--model', required=True, help='stage-2 weights (.pth) with the .yml record saved beside them')
    p.add_argument('--set', required=True, help='folder of HR images (random crops are taken)')
    p.add_argument('--batch', type=int, default=8, help='crops (one random kernel each; default 8)')
    p.add_argument('--crop', type=int, default=96, help='HR crop side in pixels (default 96)')
    p.add_argument('--seed', type=int, default=0, help='seed of crops and kernels (default 0)')
    return p.parse_args(argv)


def rms(t):
    return float(t.pow(2).mean().sqrt())


def main(argv=None):
    args = parse_args(argv)

    def job():
        import torch
        import torch.nn.functional as F
        from blindsr.archs.build import build_network
        from blindsr.degradation.blur import blur_subsample
        from blindsr.degradation.kernels import random_kernels
        from blindsr.degradation.pca import pca_encode
        from blindsr.inference.checkpoint_options import checkpoint_options
        from blindsr.utils.checkpoint_io import load_state_dict
        from blindsr.utils.image_io import img2tensor, list_images, read_image
        from blindsr.utils.logger import setup_logging
        setup_logging()
        if args.batch < 2 or args.crop < 16:
            raise ValueError('--batch must be >= 2 and --crop >= 16')
        opt = checkpoint_options(args.model)
        net = build_network(opt)
        load_state_dict(net, args.model, strict=True)
        net.eval()
        s, size = opt['scale'], args.crop - args.crop % opt['scale']
        gen = torch.Generator().manual_seed(args.seed)
        paths = list_images(args.set)
        crops = []
        for i in torch.randint(len(paths), (args.batch,), generator=gen).tolist():
            hr = img2tensor(read_image(paths[i]))
            top = int(torch.randint(hr.shape[1] - size + 1, (1,), generator=gen))
            left = int(torch.randint(hr.shape[2] - size + 1, (1,), generator=gen))
            crops.append(hr[:, top:top + size, left:left + size])
        hr = torch.stack(crops)
        kernels, _ = random_kernels(args.batch, s, opt['kernel_size'], 0.175 * s, 2.5 * s, 0.0, gen)
        lr = torch.stack([blur_subsample(hr[i:i + 1], kernels[i:i + 1], s)[0] for i in range(args.batch)])

        inputs = {}
        hooks = [block.SFT.register_forward_pre_hook(
            lambda mod, a, i=i: inputs.__setitem__(i, (a[0].detach(), a[1].detach())))
            for i, block in enumerate(net.RRDB_trunk)]
        net.zero_grad()
        sr, _ = net(lr, kernels)
        F.l1_loss(sr, hr).backward()
        for h in hooks:
            h.remove()

        nf = net.conv_first.out_channels
        raw_norms = [round(float(n), 3) for n in pca_encode(kernels, net.pca_matrix).norm(dim=1)]
        lines = [(f'{args.model}: {args.batch} crops of {size} px, one random training kernel each; '
              f'code_norm {net.code_norm}; raw code norms {raw_norms}'), '',
                 ('| SFT | feature RMS | feature spread | code spread across kernels | output change, other kernel '
              '| grad RMS code / feature channels | weight RMS code / feature channels |'),
                 '|---|---|---|---|---|---|---|']
        with torch.no_grad():
            for i, block in enumerate(net.RRDB_trunk):
                fea, cmap = inputs[i]
                out = block.SFT(fea, cmap)
                out_other = block.SFT(fea, cmap.roll(1, dims=0))   # each crop fed another crop's kernel
                grads = [block.SFT.mul_conv1.weight.grad, block.SFT.add_conv1.weight.grad]
                weights = [block.SFT.mul_conv1.weight, block.SFT.add_conv1.weight]
                g_code = rms(torch.cat([g[:, nf:] for g in grads]))
                g_fea = rms(torch.cat([g[:, :nf] for g in grads]))
                w_code = rms(torch.cat([w[:, nf:] for w in weights]))
                w_fea = rms(torch.cat([w[:, :nf] for w in weights]))
                lines.append(f'| {i} | {rms(fea):.3g} | {float(fea.std(0).mean()):.3g} | {float(cmap[:, :, 0, 0].std(0).mean()):.3g} '
                      f'| {rms(out_other - out) / rms(out):.3g} | {g_code:.3g} / {g_fea:.3g} | {w_code:.3g} / {w_fea:.3g} |')
        sys.stdout.write('\n'.join(lines) + '\n')
        return 0
    return run_cli(job)


if __name__ == '__main__':
    sys.exit(main())
