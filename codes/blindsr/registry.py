"""Name -> class registries for datasets, architectures, models and losses.

Adding a component is one new file whose name ends in the registry's suffix
(``*_arch.py``, ``*_dataset.py``, ``*_model.py``, ``*_loss.py``) plus one decorator. The file
may sit in a role folder (``blindsr/archs/``) or in a method's own package
(``blindsr/kulnet/``): every package directly under the scanned root is searched.
Modules are not imported to learn the names: their source is read for
``@<REGISTRY>.register(...)`` decorators, and a lookup imports only the module that declares
the name. So validating an option file imports just the components it names, and a module
that fails to import is reported (in the message of the lookup) instead of breaking the
other methods.
"""
import ast
import difflib
import importlib
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def _declared_names(path, variable):
    """Names registered in ``path`` by ``@<variable>.register()`` / ``.register('name')`` decorators."""
    try:
        tree = ast.parse(path.read_text(), str(path))
    except (OSError, SyntaxError, ValueError):
        return None
    names = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            continue
        for deco in node.decorator_list:
            if (isinstance(deco, ast.Call) and isinstance(deco.func, ast.Attribute) and deco.func.attr == 'register'
                    and isinstance(deco.func.value, ast.Name) and deco.func.value.id == variable):
                arg = deco.args[0] if deco.args else None
                names.append(arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else node.name)
    return names


class Registry:
    def __init__(self, kind, package, suffix, variable=None):
        self.kind = kind            # e.g. 'architecture', used in error messages
        self.package = package      # e.g. 'blindsr': its modules and its sub-packages' are scanned
        self.suffix = suffix        # e.g. '_arch'
        self.variable = variable    # the registry's name in decorators, e.g. 'ARCHS' (None: import to find out)
        self._items = {}
        self._index = None          # declared name -> module, read from the sources
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

    def _module_files(self):
        root = Path(importlib.import_module(self.package).__path__[0])
        for path in sorted(root.glob(f'*{self.suffix}.py')):
            yield f'{self.package}.{path.stem}', path
        for sub in sorted(p for p in root.iterdir() if (p / '__init__.py').is_file()):
            for path in sorted(sub.glob(f'*{self.suffix}.py')):
                yield f'{self.package}.{sub.name}.{path.stem}', path

    def _import(self, module):
        try:
            importlib.import_module(module)
        except Exception as e:  # noqa: BLE001 - any failure of one module must not stop the others
            self.failed[module] = f'{type(e).__name__}: {e}'.splitlines()[0]
            logger.warning('%s: cannot import %s (%s); its %ss are unavailable',
                           self.kind, module, self.failed[module], self.kind)

    def _build_index(self):
        if self._index is None:
            self._index = {}
            for module, path in self._module_files():
                declared = _declared_names(path, self.variable) if self.variable else None
                if declared is None:        # unreadable source, or no decorator name to look for
                    self._import(module)
                    continue
                for name in declared:
                    self._index.setdefault(name, module)
        return self._index

    def _scan(self):
        """Import every module (a lookup of an undeclared name, or a full listing of classes)."""
        if self._scanned:
            return
        self._scanned = True
        for module, _ in self._module_files():
            self._import(module)

    def names(self):
        return sorted(set(self._build_index()) | set(self._items))

    def __contains__(self, name):
        return name in self._items or name in self._build_index()

    def get(self, name):
        if name not in self._items and name in self._build_index():
            self._import(self._build_index()[name])
        if name not in self._items:
            self._scan()
        if name not in self._items:
            close = difflib.get_close_matches(str(name), self._items, n=1)
            hint = f' Did you mean {close[0]!r}?' if close else ''
            broken = ''.join(f' ({m} failed to import: {why})' for m, why in self.failed.items())
            raise KeyError(f'unknown {self.kind} {name!r}.{hint} Available: {", ".join(self.names())}{broken}')
        return self._items[name]


ARCHS = Registry('architecture', 'blindsr', '_arch', 'ARCHS')
DATASETS = Registry('dataset mode', 'blindsr', '_dataset', 'DATASETS')
MODELS = Registry('model', 'blindsr', '_model', 'MODELS')
LOSSES = Registry('loss', 'blindsr', '_loss', 'LOSSES')
