"""Writes the fixtures of packages/pfgmpp's tests (NumPy only).

    python3 tools/reference/make_pfgmpp_fixtures.py REFERENCE_DIR

REFERENCE_DIR is the folder of fixtures made with the official PyTorch code. Writes into
test/fixtures/pfgmpp:
- samplers.npz: samplers.npz with every key kept except the `.traj` arrays of the 18-step
  ablation runs (their `.out` and `.t_steps` stay), to keep the file small; stored ZIP;
- kernel_stats.npz, kernel_stats.json, losses.npz (the official losses on recorded draws): as is.
"""

import json
import os
import shutil
import sys

import numpy as np


def main() -> None:
    ref = sys.argv[1]
    dest = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'pfgmpp')
    os.makedirs(dest, exist_ok=True)
    z = np.load(os.path.join(ref, 'samplers.npz'))
    kept = {k: z[k] for k in z.files if not (k.startswith('abl.') and k.endswith('.n18.traj'))}
    np.savez(os.path.join(dest, 'samplers.npz'), **kept)
    for name in ('kernel_stats.npz', 'kernel_stats.json', 'losses.npz'):
        shutil.copyfile(os.path.join(ref, name), os.path.join(dest, name))
    print(json.dumps({'samplers_keys': len(kept)}))


if __name__ == '__main__':
    main()
