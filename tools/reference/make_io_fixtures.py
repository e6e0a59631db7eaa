"""Writes the fixtures of packages/io's tests (run from anywhere with NumPy; no PyTorch needed).

    python3 tools/reference/make_io_fixtures.py REFERENCE_DIR

REFERENCE_DIR is the folder of fixtures made with the official PyTorch code (networks/,
dataset_tool/, kernel_stats.npz, fid/). Writes into test/fixtures/io. Copies:
- edm_adm_uncond.pt: networks/edm_adm_uncond.pt as is (torch 1.13.1 zip format, protocol 2);
- iddpm_adm_uncond.pt.gz: networks/iddpm_adm_uncond.pt, gzipped (mtime 0) to save space;
- edm_adm_uncond.params.npz: the `param.*` and `config` keys of networks/edm_adm_uncond.npz,
  rewritten with np.savez_compressed (so it also covers deflated members);
- state_dicts.json: for both networks, [name, shape, dtype, sha256 of the little-endian bytes]
  of every `param.*` array of the reference .npz, in order;
- kernel_stats.npz, ref_wellcond_A.npz: reference .npz files as is (stored ZIP, NPY 1.0);
- cifar_data_batch_1.pkl: dataset_tool/cifar-mini.tar.gz's data_batch_1 (a Python-2 style
  protocol-2 pickle with numpy _reconstruct), and cifar_batch1_expected.npz (its data and labels
  taken from cifar-mini_pixels.npz).
Makes (torch-free; torch module names are stubs so the pickles name the real globals):
- numpy_*.npz / *.npy and numpy_expected.json: NumPy-written arrays of every dtype and layout;
- pickle_p{0..5}.pkl: one Python object pickled with each protocol;
- torch_zip.pt, torch_zip_big.pt, torch_legacy.pt, stub-persistent-modules.pkl and torch_expected.npz: tensors
  with offsets, strides, shared storages, 0-d and empty shapes, several storage types.
"""

import gzip
import hashlib
import io
import json
import os
import pickle
import struct
import sys
import tarfile
import types
import zipfile
from collections import OrderedDict

import numpy as np

if len(sys.argv) != 2:
    sys.exit('usage: python3 tools/reference/make_io_fixtures.py REFERENCE_DIR')
REF = sys.argv[1]
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'io')


def out(name):
    return os.path.join(HERE, name)


def write(name, data):
    with open(out(name), 'wb') as f:
        f.write(data)


# ---- copies of reference files -------------------------------------------------------------
def copies():
    nets = os.path.join(REF, 'networks')
    with open(os.path.join(nets, 'edm_adm_uncond.pt'), 'rb') as f:
        write('edm_adm_uncond.pt', f.read())
    with open(os.path.join(nets, 'iddpm_adm_uncond.pt'), 'rb') as f:
        write('iddpm_adm_uncond.pt.gz', gzip.compress(f.read(), 9, mtime=0))
    ref = np.load(os.path.join(nets, 'edm_adm_uncond.npz'))
    keep = {k: ref[k] for k in ref.files if k.startswith('param.') or k == 'config'}
    np.savez_compressed(out('edm_adm_uncond.params.npz'), **keep)
    digests = {}
    for net in ['edm_adm_uncond', 'iddpm_adm_uncond']:
        z = np.load(os.path.join(nets, net + '.npz'))
        digests[net] = [
            [k[6:], list(z[k].shape), str(z[k].dtype), hashlib.sha256(z[k].astype(z[k].dtype.newbyteorder('<')).tobytes()).hexdigest()]
            for k in z.files if k.startswith('param.')
        ]
    with open(out('state_dicts.json'), 'w') as f:
        json.dump(digests, f, indent=0)
    for src, dst in [('kernel_stats.npz', 'kernel_stats.npz'), ('fid/ref_wellcond_A.npz', 'ref_wellcond_A.npz')]:
        with open(os.path.join(REF, src), 'rb') as f:
            write(dst, f.read())
    with tarfile.open(os.path.join(REF, 'dataset_tool', 'cifar-mini.tar.gz')) as t:
        write('cifar_data_batch_1.pkl', t.extractfile('cifar-10-batches-py/data_batch_1').read())
    px = np.load(os.path.join(REF, 'dataset_tool', 'cifar-mini_pixels.npz'))
    np.savez_compressed(out('cifar_batch1_expected.npz'),
                        data=px['train_images_nchw'][:7].reshape(7, 3072), labels=px['train_labels'][:7])


# ---- NumPy-written arrays --------------------------------------------------------------------
DTYPES = ['bool', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64',
          'float16', 'float32', 'float64']
SHAPES = {'scalar': (), 'empty': (0, 3), 'odd': (3, 1, 5), 'vec': (7,)}


def values(dtype, shape):
    n = int(np.prod(shape))
    i = np.arange(n)
    if dtype == 'bool':
        v = (i % 3 == 1)
    elif dtype.startswith('float'):
        v = (i - 2.5) * 0.375
    elif dtype.startswith('uint'):
        v = np.asarray(np.iinfo(dtype).max, dtype) - i.astype(dtype) * np.asarray(3, dtype)
    else:
        v = (i - 3) * 29 + np.iinfo(dtype).min // 2 + 7
    return np.asarray(v).astype(dtype).reshape(shape)


def numpy_files():
    little, big, expected = {}, {}, {}
    for d in DTYPES:
        for s, shape in SHAPES.items():
            a = values(d, shape)
            key = f'{d}.{s}'
            little[key] = a
            big[key] = a.astype(a.dtype.newbyteorder('>'))
            expected[key] = {'dtype': d, 'shape': list(shape),
                             'values': [str(x) if d.endswith('int64') else (bool(x) if d == 'bool' else float(x) if d.startswith('float') else int(x)) for x in a.ravel().tolist()]}
    np.savez(out('numpy_little.npz'), **little)
    np.savez(out('numpy_big.npz'), **big)
    np.savez_compressed(out('numpy_compressed.npz'), **little)
    with open(out('numpy_expected.json'), 'w') as f:
        json.dump(expected, f)
    a = np.arange(6, dtype='<f4').reshape(2, 3)
    with open(out('numpy_fortran.npy'), 'wb') as f:
        np.lib.format.write_array(f, np.asfortranarray(a))
    for v in [(1, 0), (2, 0), (3, 0)]:
        with open(out(f'numpy_v{v[0]}.npy'), 'wb') as f:
            np.lib.format.write_array(f, a, version=v)
    with open(out('numpy_structured.npy'), 'wb') as f:
        np.lib.format.write_array(f, np.zeros(2, dtype=[('x', '<f4'), ('y', '<i4')]))
    with open(out('numpy_object.npy'), 'wb') as f:
        np.lib.format.write_array(f, np.array([{'a': 1}, None], dtype=object), allow_pickle=True)


# ---- plain pickles ---------------------------------------------------------------------------
def stub_module(name):
    m = types.ModuleType(name)
    sys.modules[name] = m
    parent, _, child = name.rpartition('.')
    if parent:
        setattr(sys.modules[parent], child, m)
    return m


def stub_class(module, name, base=object, body=None):
    cls = type(name, (base,), dict(body or {}))
    cls.__module__ = module.__name__
    cls.__qualname__ = name
    setattr(module, name, cls)
    return cls


def stub_function(module, name):
    def f(*args):
        raise RuntimeError('stub')
    f.__module__ = module.__name__
    f.__qualname__ = f.__name__ = name
    setattr(module, name, f)
    return f


fixturemod = stub_module('fixturemod')
Thing = stub_class(fixturemod, 'Thing')


def pickle_files():
    thing = Thing()
    thing.a = 1
    thing.b = [1, 2]
    obj = {
        'int': 1, 'neg': -5, 'int2': 40000, 'int4': -2_000_000_000, 'big': 2 ** 70, 'negbig': -(2 ** 64),
        'float': 1.5, 'inf': float('inf'), 'str': 'h\xe9llo \u4e16', 'bytes': b'\x00\xff', 'empty_bytes': b'',
        'list': [1, 2, 3], 'tuple': (1, 'a'), 'set': {1, 2}, 'frozenset': frozenset({3}),
        'none': None, 'true': True, 'false': False, 'od': OrderedDict([('b', 2), ('a', 1)]),
        'nested': [[[]]], 'bytearray': bytearray(b'ab'), 'np_f64': np.float64(0.5), 'np_i64': np.int64(-7),
        'np_arr': np.arange(6, dtype='<f4').reshape(2, 3), 'thing': thing, 'long_list': list(range(300)),
    }
    shared = [1]
    obj['shared'] = (shared, shared)
    for p in range(6):
        write(f'pickle_p{p}.pkl', pickle.dumps(obj, protocol=p))


# ---- torch-like checkpoints ------------------------------------------------------------------
torch = stub_module('torch')
_utils = stub_module('torch._utils')
tstorage = stub_module('torch.storage')
rebuild_tensor_v2 = stub_function(_utils, '_rebuild_tensor_v2')
rebuild_parameter = stub_function(_utils, '_rebuild_parameter')
load_from_bytes = stub_function(tstorage, '_load_from_bytes')
STORAGE_TYPES = {name: stub_class(torch, name) for name in
                 ['FloatStorage', 'DoubleStorage', 'HalfStorage', 'BFloat16Storage', 'LongStorage',
                  'IntStorage', 'ShortStorage', 'CharStorage', 'ByteStorage', 'BoolStorage']}
persistence = stub_module('torch_utils')
persistence = stub_module('torch_utils.persistence')
reconstruct_persistent = stub_function(persistence, '_reconstruct_persistent_obj')
container = stub_module('torch.nn')
container = stub_module('torch.nn.modules')
container = stub_module('torch.nn.modules.container')
ModuleDict = stub_class(container, 'ModuleDict')


class Storage:
    def __init__(self, cls_name, key, array, in_pkl=False):
        self.cls = STORAGE_TYPES[cls_name]
        self.key = key
        self.array = array  # the element values; bfloat16 given as uint16 bits
        self.in_pkl = in_pkl

    def __reduce__(self):  # only used inside .pkl files: the legacy blob of this one storage
        return (load_from_bytes, (legacy_bytes(self, [self]),))


class Tensor:
    def __init__(self, storage, offset, size, stride, param=False):
        self.args = (storage, offset, tuple(size), tuple(stride))
        self.param = param

    def __reduce__(self):
        t = (rebuild_tensor_v2, self.args + (False, OrderedDict()))
        if self.param:
            return (rebuild_parameter, (_Raw(t), True, OrderedDict()))
        return t


class _Raw:
    def __init__(self, r):
        self.r = r

    def __reduce__(self):
        return self.r


class StoragePickler(pickle.Pickler):
    def __init__(self, f, legacy, protocol=2):
        super().__init__(f, protocol=protocol)
        self.legacy = legacy

    def persistent_id(self, obj):
        if isinstance(obj, Storage) and (not obj.in_pkl or self.legacy):
            pid = ('storage', obj.cls, obj.key, 'cpu', obj.array.size)
            return pid + (None,) if self.legacy else pid
        return None


def legacy_bytes(obj, storages, big=False):
    f = io.BytesIO()
    pickle.dump(0x1950a86a20f9469cfc6c, f, protocol=2)
    pickle.dump(1001, f, protocol=2)
    pickle.dump({'protocol_version': 1001, 'little_endian': not big,
                 'type_sizes': {'short': 2, 'int': 4, 'long': 4}}, f, protocol=2)
    StoragePickler(f, legacy=True).dump(obj)
    keys = sorted({s.key for s in storages})
    pickle.dump(keys, f, protocol=2)
    for k in keys:
        s = next(s for s in storages if s.key == k)
        order = '>' if big else '<'
        f.write(struct.pack(order + 'q', s.array.size))
        f.write(s.array.astype(s.array.dtype.newbyteorder(order)).tobytes())
    return f.getvalue()


def f32_to_bf16_bits(x):
    return (np.asarray(x, dtype='<f4').view('<u4') >> 16).astype('<u2')


def torch_files():
    base = np.arange(24, dtype='<f4') * 0.5 - 3  # shared by several views
    bf = np.array([1.0, -2.5, 3.140625, 0.0], dtype='<f4')
    stores = {
        's_base': Storage('FloatStorage', '0', base),
        's_f64': Storage('DoubleStorage', '1', np.array([1e-300, -2.0, np.pi], dtype='<f8')),
        's_i64': Storage('LongStorage', '2', np.array([-(2 ** 40), 7, 123], dtype='<i8')),
        's_f16': Storage('HalfStorage', '3', np.array([0.5, -1.0, 65504.0, 6e-8], dtype='<f2')),
        's_bf16': Storage('BFloat16Storage', '4', f32_to_bf16_bits(bf)),
        's_u8': Storage('ByteStorage', '5', np.array([0, 255, 9], dtype='u1')),
        's_bool': Storage('BoolStorage', '6', np.array([1, 0, 1], dtype='u1')),
        's_i32': Storage('IntStorage', '7', np.array([-5, 5], dtype='<i4')),
        's_empty': Storage('FloatStorage', '8', np.zeros(0, dtype='<f4')),
    }
    S = stores
    expected = OrderedDict()
    sd = OrderedDict()

    def add(name, storage, offset, size, stride, value, param=False):
        sd[name] = Tensor(storage, offset, size, stride, param)
        expected[name] = value

    add('plain', S['s_base'], 0, [2, 3, 4], [12, 4, 1], base.reshape(2, 3, 4))
    add('offset_view', S['s_base'], 5, [3], [1], base[5:8])
    add('transposed', S['s_base'], 0, [4, 3], [1, 4], base[:12].reshape(3, 4).T)
    add('strided', S['s_base'], 1, [2, 2], [12, 5], np.lib.stride_tricks.as_strided(base[1:], (2, 2), (48, 20)))
    add('expanded', S['s_base'], 2, [3, 2], [0, 1], np.stack([base[2:4]] * 3))
    add('scalar', S['s_base'], 7, [], [], base[7])
    add('param', S['s_base'], 0, [24], [1], base, param=True)
    add('f64', S['s_f64'], 0, [3], [1], S['s_f64'].array)
    add('i64', S['s_i64'], 0, [3], [1], S['s_i64'].array)
    add('f16', S['s_f16'], 0, [2, 2], [2, 1], S['s_f16'].array.reshape(2, 2))
    add('bf16', S['s_bf16'], 0, [4], [1], S['s_bf16'].array)  # bits; values in bf16_values
    add('u8', S['s_u8'], 0, [3], [1], S['s_u8'].array)
    add('bool', S['s_bool'], 0, [3], [1], S['s_bool'].array.astype(bool))
    add('i32_tail', S['s_i32'], 1, [1], [1], S['s_i32'].array[1:])
    add('empty', S['s_empty'], 0, [0, 4], [4, 1], np.zeros((0, 4), dtype='<f4'))
    add('empty_on_data', S['s_base'], 0, [2, 0], [0, 1], np.zeros((2, 0), dtype='<f4'))
    used = list(stores.values())

    # zip layout, as torch.save to a stream writes it ('archive/' folder), protocol 2
    def zip_bytes(big):
        f = io.BytesIO()
        with zipfile.ZipFile(f, 'w', zipfile.ZIP_STORED) as zf:
            z = types.SimpleNamespace(writestr=lambda name, data: zf.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data))
            p = io.BytesIO()
            StoragePickler(p, legacy=False).dump(sd)
            z.writestr('archive/data.pkl', p.getvalue())
            if big:
                z.writestr('archive/byteorder', 'big')
            for s in used:
                order = '>' if big else '<'
                z.writestr(f'archive/data/{s.key}', s.array.astype(s.array.dtype.newbyteorder(order)).tobytes())
            z.writestr('archive/version', '3\n')
        return f.getvalue()

    write('torch_zip.pt', zip_bytes(False))
    write('torch_zip_big.pt', zip_bytes(True))
    # legacy layout: keys like C pointers, sorted as strings
    for i, s in enumerate(used):
        s.key = str(94000000000000 + (i * 7919) % 10 * 1000 + i)
    write('torch_legacy.pt', legacy_bytes(sd, used))
    write('torch_legacy_big.pt', legacy_bytes(sd, used, big=True))

    # an EDM-like network-snapshot .pkl: persistent modules, _load_from_bytes storages, protocol 4
    def tensor(arr, param):
        st = Storage('FloatStorage', 'x', np.ascontiguousarray(arr, dtype='<f4').ravel(), in_pkl=True)
        return Tensor(st, 0, arr.shape, [int(np.prod(arr.shape[i + 1:])) for i in range(arr.ndim)], param)

    class Persistent:
        def __init__(self, class_name, state):
            self.class_name, self.state = class_name, state

        def __reduce__(self):
            meta = dict(type='class', version=6, module_src='import os\nos.system("echo never run")\n',
                        class_name=self.class_name, state=self.state)
            return (reconstruct_persistent, (meta,))

    def module(class_name, params, buffers, children, extra=None, persistent=True, skip=()):
        state = {'training': False, '_parameters': OrderedDict(), '_buffers': OrderedDict(),
                 '_non_persistent_buffers_set': set(skip), '_modules': OrderedDict(children)}
        for k, v in params.items():
            state['_parameters'][k] = None if v is None else tensor(v, True)
        for k, v in buffers.items():
            state['_buffers'][k] = tensor(v, False)
        state.update(extra or {})
        if persistent:
            return Persistent(class_name, state)
        obj = ModuleDict()
        obj.__dict__.update(state)
        return obj

    rng = np.random.default_rng(0)
    w = lambda *s: rng.standard_normal(s).astype('<f4')
    conv = module('training.networks.Conv2d', {'weight': w(4, 3, 3, 3), 'bias': w(4)},
                  {'resample_filter': w(1, 1, 2, 2)}, {}, {'in_channels': 3, 'out_channels': 4})
    norm = module('training.networks.GroupNorm', {'weight': w(4), 'bias': None}, {'tmp': w(2)}, {},
                  {'eps': 1e-5}, skip=('tmp',))
    enc = module('', {}, {}, {'16x16_conv': conv, '16x16_norm': norm}, persistent=False)
    unet = module('training.networks.SongUNet', {'map': w(2, 2)}, {}, {'enc': enc},
                  {'skip_scale': np.float64(np.sqrt(0.5)), 'label_dropout': 0})
    net = module('training.networks.EDMPrecond', {}, {}, {'model': unet},
                 {'sigma_max': float('inf'), 'D': 128, 'N': 768, 'pfgmpp': True,
                  '_init_kwargs': {'model_type': 'SongUNet', 'channel_mult': [1, 2]}})
    snapshot = {'ema': net, 'loss_fn': None, 'augment_pipe': None, 'dataset_kwargs': {'xflip': False}}
    f = io.BytesIO()
    StoragePickler(f, legacy=False, protocol=4).dump(snapshot)
    write('stub-persistent-modules.pkl', f.getvalue())

    arrays = {}
    for k, v in expected.items():
        arrays[k] = np.array(v, order='C')
    arrays['bf16_values'] = (S['s_bf16'].array.astype('<u4') << 16).view('<f4')
    edm = OrderedDict([
        ('model.map', unet.state['_parameters']['map']),
        ('model.enc.16x16_conv.weight', conv.state['_parameters']['weight']),
        ('model.enc.16x16_conv.bias', conv.state['_parameters']['bias']),
        ('model.enc.16x16_conv.resample_filter', conv.state['_buffers']['resample_filter']),
        ('model.enc.16x16_norm.weight', norm.state['_parameters']['weight']),
    ])
    arrays['edm_names'] = np.frombuffer(json.dumps(list(edm)).encode(), dtype='u1')
    for k, t in edm.items():
        st, off, size, stride = t.args
        arrays['edm.' + k] = st.array.reshape(size)
    np.savez(out('torch_expected.npz'), **arrays)


if __name__ == '__main__':
    copies()
    numpy_files()
    pickle_files()
    torch_files()
    total = sum(os.path.getsize(out(n)) for n in os.listdir(HERE))
    print(f'wrote {len(os.listdir(HERE))} files, {total} bytes')
