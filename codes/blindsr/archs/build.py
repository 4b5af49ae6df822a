"""Build the network named by ``network_G.which_model_G`` from the options."""
import inspect
import logging

from ..registry import ARCHS

logger = logging.getLogger(__name__)

# Top-level option keys that the authors' define_G hands to the networks (and our train_sv_rate,
# which the mean-kernel baseline needs to know its training distribution).
_FROM_TOP_LEVEL = ('scale', 'kernel_size', 'code_length', 'pca_path', 'train_sv_rate')


def network_kwargs(opt):
    """Keyword arguments for the architecture: ``network_G`` plus the top-level keys it accepts and
    ``network_G`` does not set."""
    net_opt = opt['network_G']
    cls = ARCHS.get(net_opt['which_model_G'])
    params = inspect.signature(cls.__init__).parameters
    takes_any = any(p.kind == p.VAR_KEYWORD for p in params.values())
    kwargs = {}
    for key, value in net_opt.items():
        if key == 'which_model_G' or value is None:
            continue
        if key in params or takes_any:
            kwargs[key] = value
        else:
            logger.warning('network_G.%s is not used by %s', key, net_opt['which_model_G'])
    for key in _FROM_TOP_LEVEL:   # a value given in network_G itself wins: it is the more specific
        if key in params and key not in kwargs and opt.get(key) is not None:
            kwargs[key] = opt[key]
    return cls, kwargs


def build_network(opt):
    cls, kwargs = network_kwargs(opt)
    return cls(**kwargs)
