"""SciPy peer for the Frechet distance of `npm run bench -- fid`.

Times pytorch-fid's `calculate_frechet_distance` (EDM's `calc_fid` is the same computation):
scipy.linalg.sqrtm of the non-symmetric product sigma1 sigma2 (Schur method), the retry with
eps added to the diagonals when the result is not finite, the real part, and
|mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr(sqrtm). Threads are NumPy's BLAS defaults
(OPENBLAS_NUM_THREADS etc. from the environment; on the 2-vCPU VM, 2).

    /usr/bin/python3 apps/bench/peers/frechet_scipy.py CONFIG_JSON

CONFIG_JSON: {"dir", "d"}: DIR holds mu1, sigma1, mu2, sigma2 as raw float64 (.f64). Prints one
JSON line: {"seconds": time of the distance, "fid": its value, "scipy": version}.
"""

import json
import os
import sys
import time

import numpy as np
import scipy
from scipy import linalg


def frechet(mu1, sigma1, mu2, sigma2, eps=1e-6):
    diff = mu1 - mu2
    covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)


def main():
    cfg = json.loads(sys.argv[1])
    d = cfg['d']

    def load(name, shape):
        return np.fromfile(os.path.join(cfg['dir'], f'{name}.f64'), dtype=np.float64).reshape(shape)

    mu1, mu2 = load('mu1', (d,)), load('mu2', (d,))
    sigma1, sigma2 = load('sigma1', (d, d)), load('sigma2', (d, d))
    t0 = time.perf_counter()
    fid = frechet(mu1, sigma1, mu2, sigma2)
    seconds = time.perf_counter() - t0
    print(json.dumps({'seconds': seconds, 'fid': float(fid), 'scipy': scipy.__version__}))


if __name__ == '__main__':
    main()
