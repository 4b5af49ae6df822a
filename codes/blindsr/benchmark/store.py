"""The result store: one JSON file per (method, set, image, seed), written when the item ends.

One file per item, written atomically (temporary file, then rename), is what makes long runs
safe: a killed run loses at most the items in flight, a rerun skips every item whose file says
``ok``, and shards writing to the same folder never touch each other's files. The table is
built from whatever is stored, by any shard.
"""
import json
from dataclasses import dataclass

from ..utils.files import atomic_savez, atomic_write_text
from ..utils.image_io import tensor2img, write_image


@dataclass(frozen=True)
class Item:
    """One unit of work, and its place in the store."""
    set_name: str
    image_index: int
    image: str
    method: str      # the method's spec, e.g. 'dipfkp -> usrnet'
    slug: str        # its file-name form
    seed: int

    @property
    def stem(self):
        return f'{self.image}__s{self.seed}'


class ResultStore:
    """``results/<name>/`` : ``items/<set>/<method>/<image>__s<seed>.json`` and, for the images of the
    crop grid, ``images/<set>/<method>/<image>__s<seed>.png`` (SR) and ``.npz`` (kernel)."""

    def __init__(self, root):
        self.root = root
        self.items_dir = root / 'items'
        self.images_dir = root / 'images'

    def path(self, item):
        return self.items_dir / item.set_name / item.slug / f'{item.stem}.json'

    def done(self, item):
        """True when the item is stored as ok (failed items are tried again)."""
        record = self.read(item)
        return record is not None and record.get('status') == 'ok'

    def read(self, item):
        try:
            return json.loads(self.path(item).read_text())
        except (OSError, ValueError):
            return None     # absent, or unreadable: the item is (re)computed

    def write(self, item, record):
        atomic_write_text(json.dumps(record, indent=1, sort_keys=True) + '\n', self.path(item))

    def records(self):
        """Every stored record, in a fixed order (by path)."""
        out = []
        for path in sorted(self.items_dir.glob('*/*/*.json')):
            try:
                out.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue
        return out

    def picture_paths(self, set_name, slug, stem):
        folder = self.images_dir / set_name / slug
        return folder / f'{stem}.png', folder / f'{stem}.npz'

    def save_pictures(self, item, sr, kernel):
        """The SR image and (when there is one) the reference-convention kernel, for the crop grid."""
        png, npz = self.picture_paths(item.set_name, item.slug, item.stem)
        write_image(png, tensor2img(sr[0]), channel_order='bgr')
        if kernel is not None:
            atomic_savez(npz, {'kernel': kernel.detach().cpu().float().numpy()})
