/**
 * Browser entry of the smoke suite. Imports the browser-safe `@pfgmpp/tensor` (navigator.gpu,
 * the same generated WGSL as Node) and installs `window.runSmoke` for the Node test to call.
 */
import {
  backward,
  binary,
  conv2d,
  convTranspose2d,
  exp,
  full,
  getDevice,
  affine,
  matmul,
  max,
  mul,
  rand,
  randn,
  ShaderCompileError,
  scope,
  sum,
  type Tensor,
  tensor,
  unary,
} from '@pfgmpp/tensor';
import type { CaseName, Plain, SmokeCases } from './protocol.ts';

type Handlers = {
  [K in CaseName]: (args: SmokeCases[K]['args']) => Promise<SmokeCases[K]['result']>;
};

const up = (p: Plain): Tensor => tensor(p.data, p.shape);

/** Reads a tensor into plain data and frees it. */
async function plain(t: Tensor): Promise<Plain> {
  try {
    return { shape: [...t.shape], data: Array.from(await t.read()) };
  } finally {
    t.dispose();
  }
}

const handlers: Handlers = {
  async adapter() {
    const gpu = await getDevice();
    const info = gpu.adapterInfo;
    return {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      features: [...gpu.features].sort(),
      userAgent: navigator.userAgent,
    };
  },
  async unary({ name, x, alpha, beta }) {
    await getDevice();
    return plain(scope(() => unary(name, up(x), alpha, beta)));
  },
  async binary({ name, a, b }) {
    await getDevice();
    return plain(scope(() => binary(name, up(a), up(b))));
  },
  async reduce({ kind, x, axes }) {
    await getDevice();
    return plain(scope(() => (kind === 'sum' ? sum : max)(up(x), axes)));
  },
  async matmul({ a, b, transA, transB, rows }) {
    const gpu = await getDevice();
    gpu.kernels.restrict(rows ?? null);
    gpu.kernels.clearUsed();
    try {
      const out = await plain(scope(() => matmul(up(a), up(b), { transA, transB })));
      return { ...out, used: gpu.kernels.usedRows() };
    } finally {
      gpu.kernels.restrict(null);
    }
  },
  async conv({ x, w, bias, g, transposed, stride, padding, groups, rows }) {
    const gpu = await getDevice();
    gpu.kernels.restrict(rows);
    gpu.kernels.clearUsed();
    const xt = up(x).requireGrad();
    const wt = up(w).requireGrad();
    try {
      const o = { stride, padding, groups };
      const y = scope(() => {
        const out = (transposed ? convTranspose2d : conv2d)(xt, wt, up(bias), o);
        backward(sum(mul(out, up(g))));
        return out.detach();
      });
      if (!xt.grad || !wt.grad) throw new Error('backward left no gradients');
      return {
        y: await plain(y),
        dx: await plain(xt.grad),
        dw: await plain(wt.grad),
        used: gpu.kernels.usedRows(),
      };
    } finally {
      gpu.kernels.restrict(null);
      xt.dispose();
      wt.dispose();
    }
  },
  async grad({ x }) {
    await getDevice();
    const leaf = up(x).requireGrad();
    try {
      scope(() => backward(sum(mul(exp(leaf), leaf))));
      if (!leaf.grad) throw new Error('backward left no gradient on the leaf');
      return { shape: [...leaf.grad.shape], data: Array.from(await leaf.grad.read()) };
    } finally {
      leaf.dispose();
    }
  },
  async random({ shape, normal, options }) {
    await getDevice();
    return plain(scope(() => (normal ? randn : rand)(shape, options)));
  },
  async shaderError({ source, file }) {
    const gpu = await getDevice();
    const bad = { file, entry: 'main', bindings: ['write'] as const, workgroupSize: 64, source };
    const out = full([4], 7);
    let error: unknown = null;
    try {
      gpu.dispatch(bad, {}, [out.buffer], null, 1);
      await out.read();
    } catch (e) {
      error = e;
    } finally {
      out.dispose();
    }
    const afterwards = (await plain(scope(() => affine(full([4], 1), 1, 1)))).data;
    return {
      rejected: error !== null,
      name: error instanceof Error ? error.name : '',
      message: error instanceof Error ? error.message : String(error),
      isShaderCompileError: error instanceof ShaderCompileError,
      afterwards,
    };
  },
};

window.runSmoke = (name, args) => handlers[name](args);
window.smokeReady = true;
