"""Writes the fixtures of packages/fid's tests (run from anywhere with NumPy; no PyTorch needed).

    python3 tools/reference/make_fid_fixtures.py REFERENCE_DIR

REFERENCE_DIR is the folder of fixtures made with the official PyTorch code; its fid/ folder
holds pytorch-fid's InceptionV3 run with synthetic weights (the weight rule is in its README,
and packages/fid generates the same weights in TypeScript). Writes into test/fixtures/fid:
- inception_features.npz: images_u8_nchw, resized_normalized_sub, block{0,1,2}_channel_mean
  and features of fid/inception_features.npz (model_input and features_f64 are left out);
- synthetic_weight_sums.json: [name, sum, sum of squares] of every tensor of
  fid/inception_state_dict.json, in state-dict order (to check the weight rule);
- fid_cases.npz, fid_cases.json, ref_{wellcond,rankdef}_{A,B}.npz: copied as they are.
"""

import json
import os
import shutil
import sys

import numpy as np

KEEP = ['images_u8_nchw', 'resized_normalized_sub', 'block0_channel_mean', 'block1_channel_mean',
        'block2_channel_mean', 'features']
COPY = ['fid_cases.npz', 'fid_cases.json', 'ref_wellcond_A.npz', 'ref_wellcond_B.npz',
        'ref_rankdef_A.npz', 'ref_rankdef_B.npz']


def main():
    src = os.path.join(sys.argv[1], 'fid')
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'fid')
    os.makedirs(out, exist_ok=True)
    f = np.load(os.path.join(src, 'inception_features.npz'))
    np.savez(os.path.join(out, 'inception_features.npz'), **{k: f[k] for k in KEEP})
    for name in COPY:
        shutil.copyfile(os.path.join(src, name), os.path.join(out, name))
    with open(os.path.join(src, 'inception_state_dict.json')) as fh:
        tensors = json.load(fh)['tensors']
    rows = [[t['name'], t['sum'], t['sum_sq']] for t in tensors]
    about = ('sum and sum of squares of every tensor of the synthetic FID Inception weights '
             '(pytorch-fid names, state-dict order), from the reference fixtures')
    with open(os.path.join(out, 'synthetic_weight_sums.json'), 'w') as fh:
        json.dump({'about': about, 'tensors': rows}, fh)


if __name__ == '__main__':
    main()
