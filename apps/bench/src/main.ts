/**
 * Benchmarks: `npm run bench -- SUITE [--json] [--repeats N]`.
 *
 * Each case is measured for our kernels and for a peer on the same adapter in the same run,
 * alternating ours/peer `repeats` times and keeping each side's best figure (least disturbed
 * by other load). Prints a table; with --json the last line is one JSON object keyed by case:
 * {"ours": number, "peer": number, "unit": "GFLOP/s", "ratio": ours / peer}.
 */
import { getDevice } from '@pfgmpp/tensor/node';
import { runCeilingSuite } from './ceiling.ts';
import { runFidSuite } from './fid-suite.ts';
import { PROFILE_MODELS, runProfile } from './profile.ts';
import { ROWS_CASES, runRowsTable } from './rows-suite.ts';
import { printTable } from './table.ts';
import { runUnetSuite } from './unet-suite.ts';
import {
  oursAttentionGflops,
  oursConv2dBackwardGflops,
  oursConv2dGflops,
  oursGroupNormGBs,
  oursMatmulGflops,
} from './ours.ts';
import {
  disposeTfjs,
  initTfjs,
  tfjsAttentionGflops,
  tfjsConv2dBackwardGflops,
  tfjsConv2dGflops,
  tfjsGroupNormGBs,
  tfjsMatmulGflops,
} from './peers/tfjs.ts';

interface CaseResult {
  ours: number;
  peer: number;
  unit: string;
  ratio: number;
}

interface BenchCase {
  key: string;
  label: string;
  unit: string;
  ours: () => Promise<number>;
  peer: () => Promise<number>;
}

const HELP = `usage: npm run bench -- SUITE [--json] [--repeats N]
       npm run bench -- profile MODEL [--json]

suites:
  kernels   matmul 1024^3, batched attention-shaped matmul (16 x 256x64 @ 64x256), and conv2d
            on 16 x 64 x 32x32 images, 64 -> 64 channels: 3x3 forward, 3x3 backward (input +
            weight gradients), 1x1 forward; GFLOP/s against TensorFlow.js's WebGPU backend on
            the same adapter. groupnorm_fwd: GroupNorm + SiLU on 16 x 64 x 32x32, 32 groups,
            in effective GB/s (tensor read + written once) against a tfjs composition
            (tf.moments + arithmetic + sigmoid). attention_16x16_fwd: attention forward on
            q, k, v [16, 256, 256] (16 images, 256 channels, one head, 16x16 tokens), GFLOP/s
            with FLOPs 4*B*L*L*C, against tf.matMul + tf.softmax + tf.matMul
  unet      EDM-preconditioned SongUNet forward and forward+backward images/s and peak GPU
            bytes: (a) small (32x32x3, 32 channels, mult [1,2,2], 1 block, attention at 16,
            batch 16), (b) CIFAR-10 ddpmpp (55.7M parameters, batch 8); against PyTorch CPU
            (Debian's python3-torch, 2 threads) on the same architecture. \`unet small\` runs (a) only
  fid       Inception feature extraction images/s (EDM pipeline, synthetic weights, batch 8) on
            32x32 (resized to 299) and 299x299 uint8 images, against the same network in PyTorch
            CPU (Debian's python3-torch, 2 threads); then the Frechet distance of 2048-d float64
            statistics (3000 vs 3000 samples, and 1000 vs 3000: singular) in seconds, best of 3,
            against pytorch-fid's SciPy sqrtm and the textbook JS path (the one before
            2026-12-06), with the relative differences of the values. \`fid frechet\` runs the
            Frechet part alone (no GPU)
            Then a table of every kernel row (convolution and matmul) on UNet, Inception and
            matmul shapes: GFLOP/s, share of the adapter's fma_peak (measured in the run), and
            the row the tuner chose
  rows      that table alone: \`rows [KEY]\` for the shapes whose key starts with KEY
            (${ROWS_CASES.map((c) => c.key).join(', ')})
  ceiling   what the adapter can do at best: register-only multiply-adds (16 accumulators,
            unrolled 8x and not unrolled) in GFLOP/s, per-lane loads from storage (f32, vec4)
            and workgroup memory (vec4) in G values/s or G floats/s, each checked against a CPU
            computation; next to PyTorch CPU (Debian's python3-torch, 2 threads) torch.mm 1024^3
            and conv2d 3x3 on 16 x 64 x 32x32, 64 -> 64 channels, in GFLOP/s
  profile   GPU time per kernel family (timestamp queries) for one training step and one
            sampling step of MODEL: ${Object.keys(PROFILE_MODELS).join(', ')}

options:
  --json        print one JSON object (case -> {ours, peer, unit, ratio}) as the last line
  --repeats N   kernels, unet: alternate ours/peer N times per case and keep the best of each
                (default 3)
  --help        this text`;

async function kernelCases(): Promise<{ cases: BenchCase[]; peerName: string }> {
  const gpu = await getDevice();
  const tf = await initTfjs();
  const mm = { batch: 1, m: 1024, k: 1024, n: 1024, iters: 4, warmup: 2 };
  const bmm = { batch: 16, m: 256, k: 64, n: 256, iters: 20, warmup: 3 };
  // A UNet level: 16 images of 32x32, 64 channels in and out (1.2 GFLOP per 3x3 conv).
  const conv3 = { batch: 16, cin: 64, cout: 64, h: 32, w: 32, k: 3, iters: 3, warmup: 1 };
  const conv1 = { ...conv3, k: 1, iters: 10, warmup: 2 };
  // GroupNorm + SiLU at the same UNet level: 16 x 64 x 32x32, 32 groups (4 MiB in, 4 out).
  const gn = { batch: 16, channels: 64, h: 32, w: 32, groups: 32, iters: 10, warmup: 2 };
  // Self-attention at the 16x16 level: 16 images, 256 channels, one head (L = C = 256).
  const attn = { batch: 16, channels: 256, tokens: 256, iters: 5, warmup: 2 };
  return {
    peerName: `TensorFlow.js ${tf.version} (${tf.backend})`,
    cases: [
      {
        key: 'matmul_1024',
        label: 'matmul 1024x1024x1024',
        unit: 'GFLOP/s',
        ours: () => oursMatmulGflops(gpu, mm),
        peer: () => tfjsMatmulGflops(mm),
      },
      {
        key: 'bmm_attention',
        label: 'bmm 16 x (256x64 @ 64x256)',
        unit: 'GFLOP/s',
        ours: () => oursMatmulGflops(gpu, bmm),
        peer: () => tfjsMatmulGflops(bmm),
      },
      {
        key: 'conv2d_3x3_fwd',
        label: 'conv2d 3x3 16x64x32x32 -> 64',
        unit: 'GFLOP/s',
        ours: () => oursConv2dGflops(gpu, conv3),
        peer: () => tfjsConv2dGflops(conv3),
      },
      {
        key: 'conv2d_3x3_bwd',
        label: 'conv2d 3x3 backward (dx + dw)',
        unit: 'GFLOP/s',
        ours: () => oursConv2dBackwardGflops(gpu, conv3),
        peer: () => tfjsConv2dBackwardGflops(conv3),
      },
      {
        key: 'conv2d_1x1_fwd',
        label: 'conv2d 1x1 16x64x32x32 -> 64',
        unit: 'GFLOP/s',
        ours: () => oursConv2dGflops(gpu, conv1),
        peer: () => tfjsConv2dGflops(conv1),
      },
      {
        key: 'groupnorm_fwd',
        label: 'groupNorm+SiLU 16x64x32x32, 32 groups',
        unit: 'GB/s',
        ours: () => oursGroupNormGBs(gpu, gn),
        peer: () => tfjsGroupNormGBs(gn),
      },
      {
        key: 'attention_16x16_fwd',
        label: 'attention 16 x 256ch x 16x16, 1 head',
        unit: 'GFLOP/s',
        ours: () => oursAttentionGflops(gpu, attn),
        peer: () => tfjsAttentionGflops(attn),
      },
    ],
  };
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h') || argv.length === 0) {
    console.log(HELP);
    return argv.length === 0 ? 1 : 0;
  }
  const ri = argv.indexOf('--repeats');
  const positional = argv.filter((a, i) => !a.startsWith('-') && !(ri >= 0 && i === ri + 1));
  const suite = positional[0];
  const json = argv.includes('--json');
  const repeats = ri >= 0 ? Number(argv[ri + 1]) : 3;
  if (!Number.isInteger(repeats) || repeats < 1) {
    console.error('--repeats needs a positive integer');
    return 2;
  }
  if (suite === 'profile') {
    const model = positional[1];
    if (!model || !PROFILE_MODELS[model]) {
      console.error(`profile needs a model: ${Object.keys(PROFILE_MODELS).join(', ')}`);
      return 2;
    }
    const result = await runProfile(await getDevice(), model);
    if (json) console.log(JSON.stringify(result));
    return 0;
  }
  if (suite === 'unet') return runUnetSuite(await getDevice(), json, positional[1], repeats);
  if (suite === 'fid')
    return runFidSuite(positional[1] === 'frechet' ? null : await getDevice(), json);
  if (suite === 'ceiling') return runCeilingSuite(await getDevice(), json);
  if (suite === 'rows') {
    const results = await runRowsTable(await getDevice(), positional[1]);
    if (json) console.log(JSON.stringify(results));
    return 0;
  }
  if (suite !== 'kernels') {
    console.error(`unknown suite "${suite}"\n\n${HELP}`);
    return 2;
  }
  const gpu = await getDevice();
  const { cases, peerName } = await kernelCases();
  console.log(
    `adapter: ${gpu.adapterInfo.description || gpu.adapterInfo.vendor}; peer: ${peerName}; best of ${repeats}`,
  );
  const results: Record<string, CaseResult> = {};
  const rows: string[][] = [['case', 'ours', 'peer', 'unit', 'ours/peer']];
  for (const c of cases) {
    let ours = 0;
    let peer = 0;
    for (let r = 0; r < repeats; r++) {
      ours = Math.max(ours, await c.ours());
      peer = Math.max(peer, await c.peer());
    }
    results[c.key] = { ours, peer, unit: c.unit, ratio: ours / peer };
    rows.push([c.label, ours.toFixed(2), peer.toFixed(2), c.unit, `${(ours / peer).toFixed(2)}x`]);
    process.stderr.write(`  ${c.label} done\n`);
  }
  printTable(rows);
  await disposeTfjs();
  const rowResults = await runRowsTable(gpu);
  if (json) console.log(JSON.stringify({ ...results, ...rowResults }));
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
