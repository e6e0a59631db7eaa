"""Writes test/fixtures/io/training-state-000001.pt: a complete PFGM++ training state of a tiny
network in the official layout, for the trainer's --resume/--transfer test.

    /usr/bin/python3 tools/reference/make_official_state_fixture.py   (Debian's python3-torch)

The network is test/fixtures/nn/edm_ddpmpp_uncond.pt (official SongUNet/EDMPrecond state dict,
16x16x3, 8 channels, mult [1, 2], one block, attention at 8x8, PFGM++ D = 128), wrapped the way
`torch.save({optimizer_state, step, ema, net})` of PFGM++'s training loop writes it: every module
pickled through torch_utils.persistence, storages on cuda:0, torch 1.13's zip layout. The
stand-in machinery (stub torch modules, persistence reduce, zip writer) is the one of
make_checkpoint_fixtures.py; the real torch only reads the state dict, in a child process,
because the stubs take the name `torch` in this one.

net holds the file's values; ema holds 0.75 x them (so a test can tell the two apart); Adam holds
exp_avg = 1e-3 x value, exp_avg_sq = 1e-6 x value^2 + 1e-8 and step = 125 (1000 images at batch 8) for every parameter;
step (images seen) = 1000, so the run resumes at 1.000 kimg.
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, '..', '..')
SOURCE = os.path.join(ROOT, 'test', 'fixtures', 'nn', 'edm_ddpmpp_uncond')
OUT = os.path.join(ROOT, 'test', 'fixtures', 'io', 'training-state-000001.pt')
STEP_IMAGES = 1000
ADAM_STEPS = 125.0  # = STEP_IMAGES / 8: the test resumes with --batch 8

DUMP = '''
import sys, numpy as np, torch
sd = torch.load(sys.argv[1], map_location='cpu')
np.savez(sys.argv[2], **{'%04d:%s' % (i, k): v.numpy() for i, (k, v) in enumerate(sd.items())})
'''


def read_state_dict():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'sd.npz')
        subprocess.run([sys.executable, '-c', DUMP, SOURCE + '.pt', path], check=True)
        z = np.load(path)
        return [(k.split(':', 1)[1], z[k].astype('<f4')) for k in sorted(z.files)]


def main():
    entries = read_state_dict()  # before the stubs take the name `torch`
    with open(SOURCE + '.npz', 'rb') as f:
        config = json.loads(bytes(np.load(f)['config']).decode())
    sys.path.insert(0, HERE)
    import make_checkpoint_fixtures as m

    classes = {}

    def cls(name):
        if name not in classes:
            classes[name] = m.network_class(type(name, (m.Module,), {'__init__': m.Module.__init__}))
        return classes[name]

    def kind(path):
        """The official class of the module at a dotted path inside the U-Net."""
        last = path[-1]
        if len(path) == 2 and path[0] in ('enc', 'dec'):
            if last.endswith(('_conv',)):
                return 'Conv2d'
            if last.endswith('_norm'):
                return 'GroupNorm'
            return 'UNetBlock'
        if last.startswith('norm'):
            return 'GroupNorm'
        if last in ('affine',) or last.startswith('map_'):
            return 'Linear'
        return 'Conv2d'

    def build(scale, training, location):
        precond = cls('EDMPrecond')()
        kwargs = dict(config['constructor_kwargs'])
        precond._init_args, precond._init_kwargs = (), kwargs
        for k, v in config['attributes'].items():
            object.__setattr__(precond, k, float('inf') if v == 'inf' else v)
        unet = cls('SongUNet')()
        unet._init_args, unet._init_kwargs = (), {}
        precond.model = unet
        unet.map_noise = cls('PositionalEmbedding')()
        for name, value in entries:
            parts = name.split('.')
            assert parts[0] == 'model', name
            node, path = unet, []
            for p in parts[1:-1]:
                path.append(p)
                if p not in node._modules:
                    node._modules[p] = m.ModuleDict() if p in ('enc', 'dec') else cls(kind(path))()
                node = node._modules[p]
            data = (value * scale).astype('<f4')
            if parts[-1] == 'resample_filter':
                node.register_buffer('resample_filter', m.Tensor(value.shape, 0, location, value))
            else:
                node._parameters[parts[-1]] = m.Parameter(value.shape, 0, location, data.ravel())
        precond.finish(training)
        return precond

    net = build(1.0, True, 'cuda:0')
    ema = build(0.75, False, 'cuda:0')
    state, names = {}, [n for n, _ in entries if not n.endswith('resample_filter')]
    for index, (name, value) in enumerate((n, v) for n, v in entries if not n.endswith('resample_filter')):
        flat = value.ravel()
        state[index] = {
            'step': m.Tensor((), 0, 'cpu', np.array([ADAM_STEPS], dtype='<f4')),
            'exp_avg': m.Tensor(value.shape, 0, 'cuda:0', (flat * 1e-3).astype('<f4')),
            'exp_avg_sq': m.Tensor(value.shape, 0, 'cuda:0', (flat * flat * 1e-6 + 1e-8).astype('<f4')),
        }
    group = {'lr': 1e-3, 'betas': (0.9, 0.999), 'eps': 1e-08, 'weight_decay': 0, 'amsgrad': False,
             'maximize': False, 'foreach': None, 'capturable': False, 'differentiable': False, 'fused': False,
             'params': list(range(len(names)))}
    obj = dict(optimizer_state={'state': state, 'param_groups': [group]}, step=STEP_IMAGES, ema=ema, net=net)
    data = m.torch_zip(obj, 'training-state-000001')
    with open(OUT, 'wb') as f:
        f.write(data)
    print(OUT, len(data), 'bytes,', len(names), 'parameters,', len(entries), 'tensors')


if __name__ == '__main__':
    main()
