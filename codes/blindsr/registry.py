"""Name -> class registries for datasets, architectures, models and losses.

Adding a component is one new file whose name ends in the registry's suffix
(``*_arch.py``, ``*_dataset.py``, ``*_model.py``, ``*_loss.py``) plus one decorator.
Modules are imported lazily, on the first lookup, so one broken optional module
cannot break ``import blindsr``.
"""
import difflib
import importlib
import pkgutil


class Registry:
    def __init__(self, kind, package, suffix):
        self.kind = kind            # e.g. 'architecture', used in error messages
        self.package = package      # e.g. 'blindsr.archs'
        self.suffix = suffix        # e.g. '_arch'
        self._items = {}
        self._scanned = False

    def register(self, name=None):
        """Decorator: ``@ARCHS.register()`` or ``@ARCHS.register('OtherName')``."""
        def deco(obj):
            key = name or obj.__name__
            if key in self._items and self._items[key] is not obj:
                raise KeyError(f'{self.kind} {key!r} is registered twice '
                               f'({self._items[key].__module__} and {obj.__module__})')
            self._items[key] = obj
            return obj
        return deco

    def _scan(self):
        if self._scanned:
            return
        self._scanned = True
        pkg = importlib.import_module(self.package)
        for mod in pkgutil.iter_modules(pkg.__path__):
            if mod.name.endswith(self.suffix):
                importlib.import_module(f'{self.package}.{mod.name}')

    def names(self):
        self._scan()
        return sorted(self._items)

    def __contains__(self, name):
        self._scan()
        return name in self._items

    def get(self, name):
        self._scan()
        if name not in self._items:
            close = difflib.get_close_matches(str(name), self._items, n=1)
            hint = f' Did you mean {close[0]!r}?' if close else ''
            raise KeyError(f'unknown {self.kind} {name!r}.{hint} Available: {", ".join(self.names())}')
        return self._items[name]


ARCHS = Registry('architecture', 'blindsr.archs', '_arch')
DATASETS = Registry('dataset mode', 'blindsr.data', '_dataset')
MODELS = Registry('model', 'blindsr.models', '_model')
LOSSES = Registry('loss', 'blindsr.losses', '_loss')
