"""Writes test/fixtures/nn/adam_torch.npz: torch.optim.Adam over three steps, for the Adam tests
of packages/nn and packages/tensor (an external oracle for the optimiser).

    /usr/bin/python3 tools/reference/make_adam_fixture.py

A Linear(3, 2)'s weight [2, 3] and bias [2] take three steps with the learning rates 0.01, 0.02
and 0.03, betas (0.9, 0.999), eps 1e-8, as the official training loop runs them: the gradients
are sanitised first with torch.nan_to_num(nan=0, posinf=1e5, neginf=-1e5), and step 2's gradient
holds a NaN, a +inf and a -inf. Keys (float32): weight0, bias0 (start); grad.weight, grad.bias
[3, ...] (before sanitising); lr [3]; after step k (1..3): step{k}.weight, step{k}.bias,
step{k}.weight.exp_avg, .exp_avg_sq, step{k}.bias.exp_avg, .exp_avg_sq. Deterministic.
"""

import os

import numpy as np
import torch


def main() -> None:
    torch.set_num_threads(1)
    rng = np.random.RandomState(2023)
    weight0 = rng.uniform(-1, 1, (2, 3)).astype(np.float32)
    bias0 = rng.uniform(-1, 1, (2,)).astype(np.float32)
    grad_w = rng.uniform(-1, 1, (3, 2, 3)).astype(np.float32)
    grad_b = rng.uniform(-1, 1, (3, 2)).astype(np.float32)
    grad_w[1, 0, 0] = np.nan
    grad_w[1, 0, 1] = np.inf
    grad_b[1, 1] = -np.inf
    lrs = np.array([0.01, 0.02, 0.03], dtype=np.float32)

    w = torch.nn.Parameter(torch.from_numpy(weight0.copy()))
    b = torch.nn.Parameter(torch.from_numpy(bias0.copy()))
    opt = torch.optim.Adam([w, b], lr=float(lrs[0]), betas=(0.9, 0.999), eps=1e-8)
    out = {'weight0': weight0, 'bias0': bias0, 'grad.weight': grad_w, 'grad.bias': grad_b, 'lr': lrs}
    for k in range(3):
        for g in opt.param_groups:
            g['lr'] = float(lrs[k])
        w.grad = torch.from_numpy(grad_w[k].copy())
        b.grad = torch.from_numpy(grad_b[k].copy())
        for p in (w, b):
            torch.nan_to_num(p.grad, nan=0, posinf=1e5, neginf=-1e5, out=p.grad)
        opt.step()
        for name, p in (('weight', w), ('bias', b)):
            st = opt.state[p]
            out[f'step{k + 1}.{name}'] = p.detach().numpy().copy()
            out[f'step{k + 1}.{name}.exp_avg'] = st['exp_avg'].numpy().copy()
            out[f'step{k + 1}.{name}.exp_avg_sq'] = st['exp_avg_sq'].numpy().copy()
    dest = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'nn', 'adam_torch.npz')
    np.savez(dest, **out)
    print(f'torch {torch.__version__}: {len(out)} arrays')


if __name__ == '__main__':
    main()
