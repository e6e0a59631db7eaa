import { getDevice, randn, Tensor, KERNELS } from '@pfgmpp/tensor/node';
import { SHADER_SOURCES } from '../../../packages/tensor/src/generated/shaders.ts';
import { execSync } from 'node:child_process';
const gpu = await getDevice();
const base = SHADER_SOURCES['matmul.wgsl']!;
async function time(run: () => void, flops: number, iters: number) {
  run();
  await gpu.sync();
  let best = 0;
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) run();
    await gpu.sync();
    best = Math.max(best, flops / ((performance.now() - t0) / 1000 / iters) / 1e9);
  }
  return best.toFixed(2);
}
const shapes = [
  [1, 1024, 1024, 1024],
  [16, 256, 64, 256],
];
for (const arg of process.argv.slice(2)) {
  const [kind, a, b2, wg] = arg.split(':');
  const WG = Number(wg);
  let src = base;
  if (kind === 'mfast')
    src = base.replace(
      'let tm = (t % tiles) / p.tiles_n;\n  let tn = t % p.tiles_n;',
      'let tn = (t % tiles) / p.tiles_m;\n  let tm = t % p.tiles_m;',
    );
  if (kind === 'u') src = execSync(`python3 /tmp/mmx/gen2.py ${a} ${b2} ${WG}`).toString();
  const [TMg, TNg, Ug] =
    kind === 'g' ? [Number(a), Number(b2), Number(arg.split(':')[4])] : [8, 8, 1];
  if (kind === 'g') src = execSync(`python3 /tmp/mmx/gen3.py ${TMg} ${TNg} ${WG} ${Ug}`).toString();
  const spec = { ...KERNELS.matmul, file: `v_${arg}.wgsl`, source: src, workgroupSize: WG };
  const out: string[] = [];
  for (const [B, M, K, N] of shapes) {
    const at = randn([B!, K!, M!], { seed: 1 });
    const bb = randn([B!, K!, N!], { seed: 2 });
    const c = Tensor.empty(gpu, [B!, M!, N!]);
    let wgs: number;
    let params: Uint32Array;
    if (kind === 'u') {
      const TM = Number(a),
        TV = Number(b2);
      const tilesM = M! / TM;
      const cgs = Math.ceil(N! / 4 / (TV * WG));
      params = new Uint32Array([
        M! / 4,
        N! / 4,
        K!,
        tilesM,
        0,
        B!,
        (K! * M!) / 4,
        (K! * N!) / 4,
        (M! * N!) / 4,
        0,
        0,
        0,
      ]);
      wgs = B! * tilesM * cgs;
    } else {
      const tilesM = M! / TMg!,
        tilesN = N! / TNg!;
      params = new Uint32Array([
        M! / 4,
        N! / 4,
        K!,
        tilesM,
        tilesN,
        B!,
        (K! * M!) / 4,
        (K! * N!) / 4,
        (M! * N!) / 4,
        0,
        0,
        0,
      ]);
      wgs = Math.ceil((tilesM * tilesN * B!) / WG);
    }
    out.push(
      await time(
        () => gpu.dispatch(spec, {}, [at.buffer, bb.buffer, c.buffer], params, wgs),
        2 * B! * M! * N! * K!,
        B === 1 ? 3 : 10,
      ),
    );
    at.dispose();
    bb.dispose();
    c.dispose();
  }
  console.log(arg, out.join(' '));
}
