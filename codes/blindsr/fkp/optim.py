"""Latent optimisation on a sphere: Adam, then rescale the latent to a fixed Euclidean norm.

A d-dimensional standard-normal latent concentrates near the sphere of radius ~sqrt(d); keeping
it there keeps the kernel in the high-density region of the flow. The authors use radius k - 1.
"""
import torch

__all__ = ['SphericalAdam', 'project_to_sphere']


@torch.no_grad()
def project_to_sphere(z, radius):
    """In place: rescale ``z`` to norm ``radius`` over all dims after the first two (+1e-9)."""
    dims = tuple(range(2, z.ndim)) if z.ndim > 2 else (z.ndim - 1,)
    z.div_((z.pow(2).sum(dims, keepdim=True) + 1e-9).sqrt())
    z.mul_(radius)
    return z


class SphericalAdam:
    """``torch.optim.Adam`` on latents, each re-projected after *every* step.

    The projection also runs when a latent got no gradient (Adam skips it), exactly as in the
    authors' SphericalOptimizer: DIP-FKP's very first step projects the raw initial latent.
    """

    def __init__(self, params, radius, **adam_kwargs):
        self.params = list(params)
        self.radius = float(radius)
        self.opt = torch.optim.Adam(self.params, **adam_kwargs)

    def zero_grad(self, set_to_none=True):
        self.opt.zero_grad(set_to_none=set_to_none)

    @torch.no_grad()
    def step(self):
        self.opt.step()
        for p in self.params:
            project_to_sphere(p, self.radius)

    def state_dict(self):
        return self.opt.state_dict()

    def load_state_dict(self, state):
        self.opt.load_state_dict(state)
