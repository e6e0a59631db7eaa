"""Writes the checkpoint fixtures of packages/io's tests (NumPy only; no PyTorch needed).

    python3 tools/reference/make_checkpoint_fixtures.py

Genuine PFGM++ training states written by the official code are in test/fixtures/official. The
files here are stubs (hence `stub-` in their names) for what those do not cover: EDM snapshots
and training states, PFGM++'s published `.pkl` layout, Adam states with moments (the genuine
files hold a fresh one) and net/EMA/Adam values that all differ, so a reader that mixes them up
fails. They are tiny stand-ins laid out the way torch 1.13 under Python 3.8/3.9 writes the real
ones. Stub modules named `torch`, `torch._utils`, `torch.storage`, `torch_utils.persistence`,
`training.networks`, `training.loss` and `torch.nn.modules.container` are registered in
sys.modules, so the pickles name exactly the globals the real files name. Every network class is wrapped by a copy of
torch_utils.persistence's reduce logic: an instance pickles as a call to
`torch_utils.persistence._reconstruct_persistent_obj(meta)` with meta = {type, version,
module_src, class_name, state}. module_src is a short stand-in that must never be run.

Writes into test/fixtures/io:
- stub-network-snapshot.pkl: EDM `network-snapshot-*.pkl`: pickle.dump (protocol 4) of
  {ema, loss_fn, augment_pipe: None, dataset_kwargs}; storages as torch.storage._load_from_bytes
  blobs (legacy serialization of one storage each), on the CPU, eval mode.
- stub-training-state.pt: PFGM++ `training-state-*.pt`: torch.save zip of {optimizer_state, step,
  ema, net}; records 64-byte aligned with 'FB' extra fields, data descriptors and zip64 end
  records as torch's writer makes them; storages on cuda:0 (Adam's `step` tensors on the CPU).
- stub-edm-training-state.pt: EDM `training-state-*.pt`: torch.save of {net, optimizer_state}
  (the step comes from the file name).
- stub-training-state.pkl: a PFGM++ published `.pkl` (pickle.dump of the training-state dict).
- checkpoint_expected.json: what a reader must find in each file: tensor names, shapes and value
  seeds in state-dict order, Adam entries, `_init_kwargs`, class names and steps.
Tensor values are value(seed, i) = ((i * 7 + seed * 13) % 29 - 14) / 16 over the flattened
tensor (exact in float32); Adam's exp_avg_sq holds the square of that.
"""

import copy
import io
import json
import os
import pickle
import struct
import sys
import types
import zlib
from collections import OrderedDict

import numpy as np

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'io')


def stub_module(name):
    parent, _, child = name.rpartition('.')
    if parent and parent not in sys.modules:
        stub_module(parent)
    m = sys.modules.get(name) or types.ModuleType(name)
    sys.modules[name] = m
    if parent:
        setattr(sys.modules[parent], child, m)
    return m


def stub_function(module, name):
    def f(*args):
        raise RuntimeError('stub: never called while writing')
    f.__module__, f.__qualname__, f.__name__ = module.__name__, name, name
    setattr(module, name, f)
    return f


def stub_class(module, name, base=object):
    cls = type(name, (base,), {})
    cls.__module__, cls.__qualname__ = module.__name__, name
    setattr(module, name, cls)
    return cls


torch = stub_module('torch')
rebuild_tensor_v2 = stub_function(stub_module('torch._utils'), '_rebuild_tensor_v2')
rebuild_parameter = stub_function(sys.modules['torch._utils'], '_rebuild_parameter')
load_from_bytes = stub_function(stub_module('torch.storage'), '_load_from_bytes')
FloatStorage = stub_class(torch, 'FloatStorage')
reconstruct_persistent_obj = stub_function(stub_module('torch_utils.persistence'), '_reconstruct_persistent_obj')
stub_module('training.networks')  # where the network classes live (never named by the pickles)
stub_module('training.loss')
container = stub_module('torch.nn.modules.container')

# Stand-ins for the embedded module sources (the real ones are whole Python files). A reader
# must keep them as data; the text shows what would happen if one ran them.
MODULE_SRC = {
    'training.networks': '# training/networks.py (stand-in)\nimport os\nos.system("echo module_src was executed")\n',
    'training.loss': '# training/loss.py (stand-in)\nraise SystemExit("module_src was executed")\n',
}


# ---- tensors and storages --------------------------------------------------------------------
def values(seed, n):
    i = np.arange(n)
    return (((i * 7 + seed * 13) % 29 - 14) / 16).astype('<f4')


class Storage:
    """A FloatStorage. torch.save replaces it by a persistent id; plain pickle.dump calls
    __reduce__, which (as in torch) embeds the legacy serialization of this one storage."""

    def __init__(self, array, location):
        self.array, self.location = array, location
        self.key = None

    def __reduce__(self):
        return (load_from_bytes, (legacy_blob(self),))


class Tensor:
    def __init__(self, shape, seed, location, data=None):
        self.shape, self.seed = tuple(shape), seed
        self.storage = Storage(values(seed, int(np.prod(shape))) if data is None else data, location)
        self.requires_grad = False

    def rebuild_args(self):
        stride = tuple(int(np.prod(self.shape[i + 1:])) for i in range(len(self.shape)))
        return (self.storage, 0, self.shape, stride, False, OrderedDict())

    def __reduce_ex__(self, protocol):
        return (rebuild_tensor_v2, self.rebuild_args())


class Parameter(Tensor):
    def __reduce_ex__(self, protocol):
        return (rebuild_parameter, (_Data(self), self.requires_grad, OrderedDict()))


class _Data:
    """`param.data`: the parameter's values as a plain tensor (what torch pickles inside)."""

    def __init__(self, p):
        self.p = p

    def __reduce_ex__(self, protocol):
        return (rebuild_tensor_v2, self.p.rebuild_args())


def legacy_blob(storage):
    """torch.save(storage, f, _use_new_zipfile_serialization=False) of one storage."""
    f = io.BytesIO()
    for obj in [0x1950a86a20f9469cfc6c, 1001,
                {'protocol_version': 1001, 'little_endian': True, 'type_sizes': {'short': 2, 'int': 4, 'long': 4}}]:
        pickle.dump(obj, f, protocol=2)
    legacy_blob.count += 1  # torch keys storages by C pointer; a counter keeps the bytes stable
    key = str(94_000_000_000_000 + 4096 * legacy_blob.count)

    class P(pickle.Pickler):
        def persistent_id(self, obj):
            if obj is storage:
                return ('storage', FloatStorage, key, storage.location, storage.array.size, None)
            return None

    P(f, protocol=2).dump(storage)
    pickle.dump([key], f, protocol=2)
    f.write(struct.pack('<q', storage.array.size))
    f.write(storage.array.tobytes())
    return f.getvalue()


legacy_blob.count = 0


# ---- modules, as torch.nn.Module and torch_utils.persistence lay out their state ------------
class Module:
    def __init__(self):
        # The instance __dict__ of torch 1.13's nn.Module, in its order.
        self.__dict__.update(
            training=True, _parameters=OrderedDict(), _buffers=OrderedDict(), _non_persistent_buffers_set=set(),
            _backward_hooks=OrderedDict(), _is_full_backward_hook=None, _forward_hooks=OrderedDict(),
            _forward_pre_hooks=OrderedDict(), _state_dict_hooks=OrderedDict(),
            _load_state_dict_pre_hooks=OrderedDict(), _load_state_dict_post_hooks=OrderedDict(),
            _modules=OrderedDict())

    def __setattr__(self, name, value):
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):  # only called when normal lookup fails, as in torch
        for group in ['_parameters', '_buffers', '_modules']:
            if name in self.__dict__.get(group, {}):
                return self.__dict__[group][name]
        raise AttributeError(name)

    def register_buffer(self, name, tensor):
        self._buffers[name] = tensor

    def finish(self, training):
        """train()/eval() and requires_grad_(), recursively."""
        self.__dict__['training'] = training
        for p in self._parameters.values():
            if p is not None:
                p.requires_grad = training
        for m in self._modules.values():
            m.finish(training)

    def state_dict_entries(self, prefix=''):
        out = []
        for group in [self._parameters, self._buffers]:
            out += [(prefix + k, t) for k, t in group.items() if t is not None]
        for k, m in self._modules.items():
            out += m.state_dict_entries(prefix + k + '.')
        return out

    def parameters(self):
        out = [p for p in self._parameters.values() if p is not None]
        for m in self._modules.values():
            out += m.parameters()
        return out


ModuleDict = stub_class(container, 'ModuleDict', Module)  # plain reduce: class + state dict


def persistent_class(orig):
    """torch_utils.persistence.persistent_class: keeps the init arguments, pickles as meta."""

    class Decorator(orig):
        _orig_module_src = MODULE_SRC[orig.__module__]
        _orig_class_name = orig.__name__

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._init_args = copy.deepcopy(args)
            self._init_kwargs = copy.deepcopy(kwargs)

        def __reduce__(self):
            fields = list(super().__reduce__())
            fields += [None] * max(3 - len(fields), 0)
            meta = dict(type='class', version=6, module_src=self._orig_module_src,
                        class_name=self._orig_class_name, state=fields[2])
            return (reconstruct_persistent_obj, (meta,))

    Decorator.__name__ = Decorator.__qualname__ = orig.__name__
    Decorator.__module__ = orig.__module__
    return Decorator


class Build:
    """Where new tensors get their seeds and storage placement."""
    seed = 0
    location = 'cpu'

    @classmethod
    def param(cls, *shape):
        cls.seed += 1
        return Parameter(shape, cls.seed, cls.location)

    @classmethod
    def buffer(cls, *shape, square=False):
        cls.seed += 1
        data = values(cls.seed, int(np.prod(shape)))
        return Tensor(shape, cls.seed, cls.location, data * data if square else data)


def network_class(cls, module='training.networks'):
    cls.__module__ = module
    return persistent_class(cls)


@network_class
class Linear(Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Build.param(out_features, in_features)
        self.bias = Build.param(out_features) if bias else None


@network_class
class Conv2d(Module):
    def __init__(self, in_channels, out_channels, kernel, bias=True, up=False, down=False, resample_filter=[1, 1]):
        super().__init__()
        self.in_channels, self.out_channels, self.up, self.down = in_channels, out_channels, up, down
        self.fused_resample = False
        self.weight = Build.param(out_channels, in_channels, kernel, kernel) if kernel else None
        self.bias = Build.param(out_channels) if kernel and bias else None
        # EDM registers the buffer even when there is no resampling: a None entry in _buffers.
        n = len(resample_filter)
        self.register_buffer('resample_filter', Build.buffer(1, 1, n, n) if up or down else None)


@network_class
class GroupNorm(Module):
    def __init__(self, num_channels, num_groups=32, min_channels_per_group=4, eps=1e-5):
        super().__init__()
        self.num_groups = min(num_groups, num_channels // min_channels_per_group)
        self.eps = eps
        self.weight = Build.param(num_channels)
        self.bias = Build.param(num_channels)


@network_class
class PositionalEmbedding(Module):
    def __init__(self, num_channels, max_positions=10000, endpoint=False):
        super().__init__()
        self.num_channels, self.max_positions, self.endpoint = num_channels, max_positions, endpoint


@network_class
class FourierEmbedding(Module):
    def __init__(self, num_channels, scale=16):
        super().__init__()
        self.register_buffer('freqs', Build.buffer(num_channels // 2))


@network_class
class UNetBlock(Module):
    def __init__(self, in_channels, out_channels, emb_channels, dropout=0, skip_scale=1, resample_filter=[1, 1]):
        super().__init__()
        self.in_channels, self.out_channels, self.emb_channels = in_channels, out_channels, emb_channels
        self.num_heads, self.dropout, self.skip_scale, self.adaptive_scale = 0, dropout, skip_scale, True
        self.norm0 = GroupNorm(num_channels=in_channels)
        self.conv0 = Conv2d(in_channels=in_channels, out_channels=out_channels, kernel=3, resample_filter=resample_filter)
        self.affine = Linear(in_features=emb_channels, out_features=out_channels * 2)
        self.norm1 = GroupNorm(num_channels=out_channels)
        self.conv1 = Conv2d(in_channels=out_channels, out_channels=out_channels, kernel=3)
        self.skip = None


@network_class
class SongUNet(Module):
    """A cut-down SongUNet: the real attribute and module names, one level, one block."""

    def __init__(self, img_resolution, in_channels, out_channels, label_dim=0, augment_dim=0, model_channels=128,
                 channel_mult=[1, 2, 2, 2], channel_mult_emb=4, num_blocks=4, attn_resolutions=[16], dropout=0.10,
                 label_dropout=0, embedding_type='positional', channel_mult_noise=1, encoder_type='standard',
                 decoder_type='standard', resample_filter=[1, 1]):
        super().__init__()
        emb_channels = model_channels * channel_mult_emb
        noise_channels = model_channels * channel_mult_noise
        self.label_dropout = label_dropout
        self.map_noise = (PositionalEmbedding(num_channels=noise_channels, endpoint=True)
                          if embedding_type == 'positional' else FourierEmbedding(num_channels=noise_channels))
        self.map_label = Linear(in_features=label_dim, out_features=noise_channels) if label_dim else None
        self.map_augment = Linear(in_features=augment_dim, out_features=noise_channels, bias=False) if augment_dim else None
        self.map_layer0 = Linear(in_features=noise_channels, out_features=emb_channels)
        self.map_layer1 = Linear(in_features=emb_channels, out_features=emb_channels)
        res, cout = img_resolution, model_channels * channel_mult[0]
        self.enc = ModuleDict()
        self.enc[f'{res}x{res}_conv'] = Conv2d(in_channels=in_channels, out_channels=cout, kernel=3)
        for idx in range(num_blocks):
            self.enc[f'{res}x{res}_block{idx}'] = UNetBlock(
                in_channels=cout, out_channels=cout, emb_channels=emb_channels, dropout=dropout,
                skip_scale=np.sqrt(0.5), resample_filter=resample_filter)
        self.dec = ModuleDict()
        self.dec[f'{res}x{res}_aux_norm'] = GroupNorm(num_channels=cout, eps=1e-6)
        self.dec[f'{res}x{res}_aux_conv'] = Conv2d(in_channels=cout, out_channels=out_channels, kernel=3)


def _setitem(self, key, module):
    self._modules[key] = module


ModuleDict.__setitem__ = _setitem


@network_class
class EDMPrecond(Module):
    def __init__(self, img_resolution, img_channels, label_dim=0, use_fp16=False, sigma_min=0, sigma_max=float('inf'),
                 sigma_data=0.5, model_type='DhariwalUNet', pfgmpp=None, D=None, pfgm=None, **model_kwargs):
        super().__init__()
        self.img_resolution, self.img_channels, self.label_dim = img_resolution, img_channels, label_dim
        self.use_fp16, self.sigma_min, self.sigma_max, self.sigma_data = use_fp16, sigma_min, sigma_max, sigma_data
        if pfgmpp is not None:  # PFGM++'s EDMPrecond adds these
            self.D, self.N, self.pfgmpp = D, img_channels * img_resolution * img_resolution, pfgmpp
        if pfgm is not None:  # older PFGM++ code
            self.pfgm = pfgm
        self.model = SongUNet(img_resolution=img_resolution, in_channels=img_channels, out_channels=img_channels,
                              label_dim=label_dim, **model_kwargs)


@lambda cls: network_class(cls, 'training.loss')
class EDMLoss:
    def __init__(self, P_mean=-1.2, P_std=1.2, sigma_data=0.5):
        self.P_mean, self.P_std, self.sigma_data = P_mean, P_std, sigma_data


# ---- writers ---------------------------------------------------------------------------------
def torch_zip(obj, folder):
    """torch.save(obj) as torch 1.13 writes it: storages keyed '0', '1', ... in first use."""
    storages = []

    class P(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, Storage):
                if o.key is None:
                    o.key = str(len(storages))
                    storages.append(o)
                return ('storage', FloatStorage, o.key, o.location, o.array.size)
            return None

    data = io.BytesIO()
    P(data, protocol=2).dump(obj)
    records = [('data.pkl', data.getvalue())]
    records += [(f'data/{s.key}', s.array.tobytes()) for s in sorted(storages, key=lambda s: s.key)]
    records.append(('version', b'3\n'))
    return zip_like_torch([(f'{folder}/{name}', body) for name, body in records])


def zip_like_torch(records):
    """PyTorchStreamWriter's layout: data at 64-byte offsets (padding in an 'FB' extra field),
    sizes in data descriptors, zip64 end records, zeroed versions and timestamps."""
    out, central = bytearray(), bytearray()
    for name, body in records:
        name_b = name.encode()
        start = len(out)
        pad = (-(start + 30 + len(name_b) + 4)) % 64
        extra = b'FB' + struct.pack('<H', pad) + b'Z' * pad
        crc = zlib.crc32(body)
        out += struct.pack('<IHHHHHIIIHH', 0x04034b50, 0, 0x0808, 0, 0, 0, 0, 0, 0, len(name_b), len(extra))
        out += name_b + extra + body
        out += struct.pack('<IIII', 0x08074b50, crc, len(body), len(body))
        central += struct.pack('<IHHHHHHIIIHHHHHII', 0x02014b50, 0, 0, 0x0808, 0, 0, 0, crc, len(body), len(body),
                               len(name_b), 0, 0, 0, 0, 0, start)
        central += name_b
    cd_offset, n = len(out), len(records)
    out += central
    eocd64 = len(out)
    out += struct.pack('<IQHHIIQQQQ', 0x06064b50, 44, 0x031e, 0x2d, 0, 0, n, n, len(central), cd_offset)
    out += struct.pack('<IIQI', 0x07064b50, 0, eocd64, 1)
    out += struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, n, n, len(central), cd_offset, 0)
    return bytes(out)


def adam_state(net, step, lr, newer_torch=False, skip=()):
    """optimizer.state_dict() of torch.optim.Adam after `step` steps (parameters in `skip` had no grad)."""
    names = {id(t): name for name, t in net.state_dict_entries()}
    state, expected = {}, []
    parameters = [names[id(p)] for p in net.parameters()]
    for index, p in enumerate(net.parameters()):
        name = names[id(p)]
        if name in skip:
            continue
        avg, sq = Build.buffer(*p.shape), Build.buffer(*p.shape, square=True)
        # torch >= 1.12 keeps the step as a 0-d float32 tensor, on the CPU unless capturable.
        step_tensor = Tensor((), 0, 'cpu', np.array([step], dtype='<f4'))
        state[index] = {'step': step_tensor, 'exp_avg': avg, 'exp_avg_sq': sq}
        expected.append([name, step, list(p.shape), avg.seed, sq.seed])
    group = {'lr': lr, 'betas': (0.9, 0.999), 'eps': 1e-08, 'weight_decay': 0, 'amsgrad': False,
             'maximize': False, 'foreach': None, 'capturable': False}
    if newer_torch:
        group.update(differentiable=False, fused=False)
    group['params'] = list(range(len(net.parameters())))
    return {'state': state, 'param_groups': [group]}, {'parameters': parameters, 'state': expected}


def build_net(kwargs, training):
    net = EDMPrecond(**kwargs)
    net.finish(training)
    return net


def listing(net):
    return [[name, list(t.shape), t.seed] for name, t in net.state_dict_entries()]


def write(name, data):
    with open(os.path.join(HERE, name), 'wb') as f:
        f.write(data)


DDPMPP = dict(model_type='SongUNet', embedding_type='positional', encoder_type='standard', decoder_type='standard',
              channel_mult_noise=1, resample_filter=[1, 1], model_channels=4, channel_mult=[1], channel_mult_emb=1,
              num_blocks=1, dropout=0.13, use_fp16=False)
NCSNPP = dict(model_type='SongUNet', embedding_type='fourier', encoder_type='residual', decoder_type='standard',
              channel_mult_noise=2, resample_filter=[1, 3, 3, 1], model_channels=4, channel_mult=[1],
              channel_mult_emb=1, num_blocks=0, dropout=0.13, use_fp16=False, augment_dim=9)


def main():
    expected = {'value': '((i * 7 + seed * 13) % 29 - 14) / 16; exp_avg_sq holds its square', 'files': {}}
    interface = dict(img_resolution=4, img_channels=1, label_dim=0)

    # EDM network snapshot (CPU, eval mode, protocol 4) and the training state of the same run.
    Build.seed, Build.location = 100, 'cpu'
    ema = build_net({**DDPMPP, **interface}, training=False)
    loss_fn = EDMLoss(P_mean=-1.2, P_std=1.2, sigma_data=0.5)
    dataset_kwargs = {'class_name': 'training.dataset.ImageFolderDataset', 'path': 'datasets/tiny-4x4.zip',
                      'use_labels': False, 'xflip': False, 'cache': True, 'resolution': 4, 'max_size': 1000}
    snapshot = dict(ema=ema, loss_fn=loss_fn, augment_pipe=None, dataset_kwargs=dataset_kwargs)
    write('stub-network-snapshot.pkl', pickle.dumps(snapshot, protocol=4))
    expected['files']['stub-network-snapshot.pkl'] = {
        'format': 'network-snapshot', 'className': 'EDMPrecond', 'initKwargs': ema._init_kwargs,
        'datasetKwargs': dataset_kwargs, 'ema': listing(ema)}

    Build.seed, Build.location = 200, 'cuda:0'
    net = build_net({**DDPMPP, 'num_blocks': 0, **interface}, training=True)
    opt, opt_expected = adam_state(net, 40.0, 2e-6, newer_torch=True)
    write('stub-edm-training-state.pt', torch_zip(dict(net=net, optimizer_state=opt), 'training-state-000020'))
    expected['files']['stub-edm-training-state.pt'] = {
        'format': 'training-state', 'className': 'EDMPrecond', 'initKwargs': net._init_kwargs,
        'net': listing(net), 'optimizer': {**opt_expected, 'param_groups': opt['param_groups']}}

    # PFGM++ training state: {optimizer_state, step, ema, net}, saved from the GPU. map_augment never
    # gets a gradient without augment labels, so Adam has no entry for it.
    pfgmpp = {**NCSNPP, 'pfgmpp': True, 'D': 128, **interface}
    for name, pkl, extra in [('stub-training-state.pt', False, {}), ('stub-training-state.pkl', True, {'pfgm': False})]:
        Build.seed, Build.location = 300 if not pkl else 500, 'cuda:0'
        net = build_net({**pfgmpp, **extra}, training=True)
        ema = build_net({**pfgmpp, **extra}, training=False)
        if pkl:
            ema.small = False  # an attribute of older PFGM++ code: readers must tolerate it
        opt, opt_expected = adam_state(net, 40.0, 2e-6, skip={'model.map_augment.weight'})
        state = dict(optimizer_state=opt, step=20480, ema=ema, net=net)
        data = pickle.dumps(state, protocol=4) if pkl else torch_zip(state, 'training-state-000020')
        write(name, data)
        expected['files'][name] = {
            'format': 'training-state', 'className': 'EDMPrecond', 'initKwargs': ema._init_kwargs, 'step': 20480,
            'net': listing(net), 'ema': listing(ema),
            'optimizer': {**opt_expected, 'param_groups': opt['param_groups']}}

    with open(os.path.join(HERE, 'checkpoint_expected.json'), 'w') as f:
        json.dump(expected, f, indent=1)
    for name in expected['files']:
        print(name, os.path.getsize(os.path.join(HERE, name)), 'bytes')


if __name__ == '__main__':
    main()
