"""Copies the network and layer reference fixtures into test/fixtures/nn.

The `.pt` files (torch.save of the official state dicts) are copied unchanged: the tests load
weights from them by state-dict name. The `.npz` files keep everything except `param.*` (the
same weights again), so inputs, outputs and gradients are stored once.

Usage: python3 tools/reference/make_nn_fixtures.py REFERENCE_DIR
"""

import io
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np


def strip_params(src: Path, dst: Path) -> None:
    with np.load(src) as z:
        arrays = {k: z[k] for k in z.files if not k.startswith('param.')}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    dst.write_bytes(buf.getvalue())


def main() -> None:
    ref = Path(sys.argv[1])
    out = Path(__file__).resolve().parents[2] / 'test' / 'fixtures' / 'nn'
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(ref / 'layers.npz', out / 'layers.npz')
    shutil.copy(ref / 'networks' / 'index.json', out / 'index.json')
    # The state-dict listings of the specification (beside the reference folder).
    for tsv in sorted((ref.parent / 'spec').glob('*.tsv')):
        shutil.copy(tsv, out / tsv.name)
    for pt in sorted((ref / 'networks').glob('*.pt')):
        shutil.copy(pt, out / pt.name)
        strip_params(pt.with_suffix('.npz'), out / (pt.stem + '.npz'))
    # Sanity: every copy is a readable zip.
    for f in out.iterdir():
        if f.suffix in ('.npz', '.pt'):
            zipfile.ZipFile(f).testzip()


if __name__ == '__main__':
    main()
