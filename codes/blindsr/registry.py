"""Name -> class registries for datasets, architectures, models and losses.

Adding a component is one new file whose name ends in the registry's suffix
(``*_arch.py``, ``*_dataset.py``, ``*_model.py``, ``*_loss.py``) plus one decorator. The file
may sit in a role folder (``blindsr/archs/``) or in a method's own package
(``blindsr/kulnet/``): every package directly under the scanned root is searched.
Modules are imported lazily, on the first lookup, and one at a time: a module that fails
to import is reported (a warning, and in the message of a lookup that misses) instead of
breaking the other methods.
"""
import difflib
import importlib
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


class Registry:
    def __init__(self, kind, package, suffix):
        self.kind = kind            # e.g. 'architecture', used in error messages
        self.package = package      # e.g. 'blindsr': its modules and its sub-packages' are scanned
        self.suffix = suffix        # e.g. '_arch'
        self._items = {}
        self._scanned = False
        self.failed = {}            # module name -> one-line reason it could not be imported

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

    def _module_names(self):
        root = Path(importlib.import_module(self.package).__path__[0])
        for path in sorted(root.glob(f'*{self.suffix}.py')):
            yield f'{self.package}.{path.stem}'
        for sub in sorted(p for p in root.iterdir() if (p / '__init__.py').is_file()):
            for path in sorted(sub.glob(f'*{self.suffix}.py')):
                yield f'{self.package}.{sub.name}.{path.stem}'

    def _scan(self):
        if self._scanned:
            return
        self._scanned = True
        for name in self._module_names():
            try:
                importlib.import_module(name)
            except Exception as e:  # noqa: BLE001 - any failure of one module must not stop the others
                self.failed[name] = f'{type(e).__name__}: {e}'.splitlines()[0]
                logger.warning('%s: cannot import %s (%s); its %ss are unavailable',
                               self.kind, name, self.failed[name], self.kind)

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
            broken = ''.join(f' ({m} failed to import: {why})' for m, why in self.failed.items())
            raise KeyError(f'unknown {self.kind} {name!r}.{hint} Available: {", ".join(self.names())}{broken}')
        return self._items[name]


ARCHS = Registry('architecture', 'blindsr', '_arch')
DATASETS = Registry('dataset mode', 'blindsr', '_dataset')
MODELS = Registry('model', 'blindsr', '_model')
LOSSES = Registry('loss', 'blindsr', '_loss')
