"""The KULNet authors' three training losses in closed form, as the tests' reference for what the
framework builds from option files (``losses.terms.build_loss_terms`` with the network's implied KL)."""
import torch
import torch.nn.functional as F


def pixel_loss(sr, hr):
    """L1 between SR and HR (mean reduction)."""
    return F.l1_loss(sr, hr)


def kernel_loss(est_kernel, true_kernel, lr_size, scale):
    """The authors' kernel term in closed form: ``1e4 * mean|k_hat - k| / (s^2 h w)``.

    They compared kernels expanded to one row per HR pixel, scaled by 1e4, and divided by the row
    count; all rows are equal, so the value is this, and its weight depends on scale and patch size.
    """
    h, w = lr_size
    return 1e4 * F.l1_loss(est_kernel, true_kernel) / (scale ** 2 * h * w)


def kl_loss(mean, log_std, weight=1e-3):
    """``weight * mean KL(N(mean, exp(log_std)^2) || N(0, 1))`` over all latent elements (weight fixed at 1e-3 by the authors)."""
    return weight * torch.mean(-0.5 * (1 + 2 * log_std - mean ** 2 - torch.exp(2 * log_std)))


def kulnet_losses(sr, est_kernel, mean, log_std, hr, true_kernel, scale):
    """All three terms and their sum (all weights 1 apart from the KL's built-in 1e-3), as a dict."""
    lr_size = mean.shape[-2:]
    terms = {'l_pix': pixel_loss(sr, hr), 'l_ker': kernel_loss(est_kernel, true_kernel, lr_size, scale),
             'l_kl': kl_loss(mean, log_std)}
    terms['l_all'] = terms['l_pix'] + terms['l_ker'] + terms['l_kl']
    return terms
