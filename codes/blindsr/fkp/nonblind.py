"""The non-blind step of FKP's pipelines: USRNet with the estimated kernel."""
import torch

__all__ = ['usrnet_sr']


@torch.no_grad()
def usrnet_sr(usrnet, lr, kernel, scale, noise_level=0.):
    """SR image (1, 3, sH, sW) from LR (1, 3, h, w) in [0, 1] and an FKP-convention kernel.

    FKP kernels are correlation kernels; USRNet expects a convolution kernel, hence the flip on
    both axes. ``noise_level`` is sigma in [0, 1] units (authors: 0, or 10/255 for real images).
    """
    k = torch.as_tensor(kernel, dtype=torch.float32, device=lr.device)
    k = k.reshape(1, 1, k.shape[-2], k.shape[-1]).flip([2, 3])
    sigma = torch.full((lr.shape[0], 1, 1, 1), float(noise_level), device=lr.device)
    return usrnet(lr, k, int(scale), sigma)
