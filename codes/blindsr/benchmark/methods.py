"""Methods as the option file names them: ``"estimator -> restorer"`` pairs or end-to-end names.

A method is resolved and checked against every set before any image is processed, so a typo, a
set a part cannot run on, or a kernel field sent to a restorer that takes one kernel stops the
run at once with one line, instead of hours in. Parts are built once and shared between methods
(``true -> usrnet`` and ``mean -> usrnet`` use one USRNet).
"""
import re

from .parts import ESTIMATORS, METHODS, RESTORERS, PartError, settings_for

ARROW = '->'


def method_slug(spec):
    """A file-name-safe id of a method: ``"dipfkp -> usrnet"`` -> ``dipfkp--usrnet``."""
    return re.sub(r'[^A-Za-z0-9_.-]+', '_', spec.replace(ARROW, '--').replace(' ', ''))


def _lookup(registry, name, what, spec):
    if name not in registry:
        raise PartError(f"method {spec!r}: unknown {what} {name!r}; known {what}s: {', '.join(registry.names())}")
    return registry.get(name)


class PartCache:
    """Builds each part once per run and scale, with its ``parts.<name>`` settings."""

    def __init__(self, parts_options, device):
        self.parts_options, self.device = parts_options or {}, device
        self.built = {}

    def get(self, cls, scale):
        key = (cls.__module__, cls.__qualname__, int(scale))
        if key not in self.built:
            self.built[key] = cls(settings_for(self.parts_options, cls.name), scale, self.device)
        return self.built[key]


class Method:
    """One row of the table: an end-to-end method, or an estimator feeding a restorer."""

    def __init__(self, spec, cache):
        self.spec = ' '.join(str(spec).split())
        self.slug = method_slug(self.spec)
        if ARROW in self.spec:
            est, _, res = (s.strip() for s in self.spec.partition(ARROW))
            if not est or not res or ARROW in res:
                raise PartError(f"method {spec!r}: a pair is written 'estimator -> restorer'")
            self.classes = (None, _lookup(ESTIMATORS, est, 'estimator', spec), _lookup(RESTORERS, res, 'restorer', spec))
        else:
            if self.spec not in METHODS:
                raise PartError(f"unknown method {spec!r}: end-to-end methods are {', '.join(METHODS.names())}; "
                                f"or name a pair 'estimator -> restorer' with estimators "
                                f"{', '.join(ESTIMATORS.names())} and restorers {', '.join(RESTORERS.names())}")
            self.classes = (METHODS.get(self.spec), None, None)
        self.cache = cache

    def parts(self, scale):
        """``(end_to_end, estimator, restorer)`` built for ``scale`` (None where absent)."""
        return tuple(self.cache.get(c, scale) if c is not None else None for c in self.classes)

    @property
    def seeded(self):
        return any(c is not None and c.seeded for c in self.classes)

    def check(self, test_set):
        """Build the parts for the set's scale; raise :class:`PartError` if one cannot run on it."""
        end_to_end, estimator, restorer = self.parts(test_set.scale)
        for part in (end_to_end, estimator, restorer):
            if part is not None:
                part.check(test_set)
        if restorer is not None and restorer.uses_kernel and not restorer.takes_field \
                and estimator.gives_field_on(test_set):
            alt = estimator.field_alternative
            hint = f"; use '{alt} -> {restorer.name}'" if alt else ''
            raise PartError(f"method {self.spec!r}: restorer {restorer.name} takes one kernel per image but "
                            f'{estimator.name} gives a kernel field on set {test_set.name}{hint}')

    def prepare(self, scale):
        """The parts' one-off set-up for ``scale`` (outside the timed work)."""
        for part in self.parts(scale):
            if part is not None:
                part.prepare()

    def run(self, sample, seed=0):
        """``(SR (1, 3, sH, sW), KernelEstimate or None)`` for one sample."""
        end_to_end, estimator, restorer = self.parts(sample.scale)
        if end_to_end is not None:
            return end_to_end.run(sample, seed)
        estimate = estimator.estimate(sample, seed)
        return restorer.restore(sample, estimate), estimate


def kernel_source(method):
    """'estimated' (the method's own kernel), 'true' (fed the truth) or 'none' (bicubic)."""
    end_to_end, estimator, _ = method.classes
    if estimator is not None:
        return 'true' if estimator.name == 'true' else 'estimated'
    return 'none' if end_to_end.name == 'bicubic' else 'estimated'
