"""Copies a subset of the official PFGM++ training states into test/fixtures/official.

Each `NAME/training-state-000123.pt` was written by the official PFGM++ training loop's own
`torch.save(dict(optimizer_state=optimizer.state_dict(), step=123456, ema=ema, net=net), path)`
(PFGM++ commit d57c1ee, torch 1.13.1): `net` and `ema` pickled by torch_utils.persistence, with
the weights of test/fixtures/nn/NAME.pt, and a fresh Adam state. The files are copied unchanged;
index.json keeps the reference index's entries (parameter count, D, preconditioner) of the copies.

The subset covers each architecture (DDPM++, NCSN++, ADM), class labels and augment labels (the
`_rand` nets, whose perturbed weights make the outputs depend on every layer), and the VP, VE
and iDDPM preconditioners.

Usage: python3 tools/reference/make_official_fixtures.py REFERENCE_DIR
"""

import json
import shutil
import sys
import zipfile
from pathlib import Path

NAMES = [
    'edm_ddpmpp_uncond',
    'edm_ncsnpp_rand',
    'edm_adm_rand',
    'vp_ddpmpp_uncond',
    've_ddpmpp_uncond',
    'iddpm_adm_uncond',
]


def main() -> None:
    ref = Path(sys.argv[1]) / 'official'
    out = Path(__file__).resolve().parents[2] / 'test' / 'fixtures' / 'official'
    index = json.loads((ref / 'index.json').read_text())
    kept = {}
    for name in NAMES:
        entry = index[name]
        (out / name).mkdir(parents=True, exist_ok=True)
        dst = out / entry['file']
        shutil.copyfile(ref / entry['file'], dst)
        zipfile.ZipFile(dst).testzip()  # a readable torch zip
        kept[name] = entry
    (out / 'index.json').write_text(json.dumps(kept, indent=1) + '\n')


if __name__ == '__main__':
    main()
