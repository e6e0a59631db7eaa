/**
 * `pfgmpp generate_alpha`, `generate_steps`, `generate_quant`: PFGM++'s robustness scripts
 * (SPEC 1.4). Each samples the run folder --outdir as generate does without --network, once per
 * alpha in {0, 0.1, 0.2} (x += alpha t eps before every step), per step count in {10, ..., 24},
 * or per weight bit width in {5, ..., 9}, into ckpt_{kimg:06d}_alpha_A / _steps_N / _quant_B.
 * The PFGM++ prior's radius scale is 80 sqrt(D) whatever --sigma_max, as in the scripts.
 */
import { ALPHA_SWEEP, QUANT_BITS, STEP_SWEEP } from '@pfgmpp/pfgmpp';
import { type OptionSpec, type OptionValues, UsageError } from '../cli.ts';
import { ADAPTER_OPTION } from '../device.ts';
import type { Io } from '../io.ts';
import { SAMPLING_OPTIONS } from '../sampling/options.ts';
import { RUN_FOLDER_OPTIONS, runFolder, type Variant } from '../sampling/run-folder.ts';
import type { Command } from './command.ts';

const options: readonly OptionSpec[] = [
  ADAPTER_OPTION,
  {
    name: 'outdir',
    kind: 'string',
    value: 'DIR',
    required: true,
    help: 'the run folder: its training states are sampled into ckpt_* folders there',
  },
  ...SAMPLING_OPTIONS,
  {
    name: 'aug_dim',
    kind: 'string',
    value: 'D',
    help: 'D of --pfgmpp=1, and the D every training-state .pt must store (default 128)',
  },
  ...RUN_FOLDER_OPTIONS,
  {
    name: 'edm',
    kind: 'flag',
    help: 'sample the one network-snapshot-*.pkl (or ours, .safetensors) of --outdir, as kimg 0',
  },
  {
    name: 'save_images',
    kind: 'flag',
    help: 'write the first batch of each setting as ode_images_{kimg}_{setting}.png, no folders',
  },
  { name: 'pfgm', kind: 'flag', help: 'legacy D = 1 PFGM sampler: only --pfgm=0' },
  { name: 'align', kind: 'flag', help: 'legacy sigma sqrt(1 + N/D) alignment: only --align=0' },
  { name: 'align_precond', kind: 'flag', help: 'legacy, non-functional: only --align_precond=0' },
  {
    name: 'network',
    kind: 'string',
    value: 'FILE',
    help: 'not used: the states of --outdir are sampled (the original crashes on it)',
  },
];

/** The legacy switches of the scripts, accepted when off. */
const LEGACY: Record<string, string> = {
  pfgm: 'the legacy D = 1 PFGM sampler needs a network with two outputs (x and z drifts), which these networks are not',
  align:
    'the old sigma sqrt(1 + N/D) alignment is legacy; PFGM++ models are sampled with r = sigma sqrt(D)',
  align_precond: 'it is non-functional in the original too (its networks take no sigma_old)',
};

function makeCommand(o: {
  name: string;
  summary: string;
  what: string;
  /** The output folder, as the help shows it. */
  folder: string;
  variants: readonly Variant[];
  skipExisting: boolean;
  check?: (v: OptionValues, io: Io) => void;
}): Command {
  return {
    name: o.name,
    summary: o.summary,
    usage: `pfgmpp ${o.name} --outdir RUN_FOLDER [--ckpt KIMG] [--end_ckpt KIMG] [--pfgmpp=1] [options]`,
    description:
      `${o.name}.py of PFGM++: ${o.what}. Every training-state-*.pt (ours: .safetensors) of the run\n` +
      'folder with kimg in [--ckpt, --end_ckpt] is sampled, as `generate --outdir RUN_FOLDER` does,\n' +
      `into ${o.folder}/ per setting (ckpt_2_/ckpt_3_ for seeds past 49999/99999), in subfolders\n` +
      'of 1000 seeds. ' +
      '--pfgmpp=1 draws the PFGM++ prior at radius scale 80 sqrt(D) (never --sigma_max); S_max\n' +
      `and S_noise default to 0. ${o.skipExisting ? 'A folder that exists is skipped (an interrupted job resumes).' : 'Existing folders are sampled again, as in the original.'}`,
    options,
    async run(v, io) {
      for (const [k, why] of Object.entries(LEGACY)) {
        if (v[k] === true) throw new UsageError(`--${k}=1 is not available: ${why}`);
      }
      if (v.network !== undefined) {
        throw new UsageError(
          `--network is not used by ${o.name}: it samples the training states of --outdir`,
        );
      }
      o.check?.(v, io);
      await runFolder(v, io, {
        search: v.edm === true ? 'snapshot' : 'pt',
        window: v.edm !== true,
        variants: o.variants,
        skipExisting: o.skipExisting,
        saveImages: v.save_images === true ? 'grids' : null,
        priorSigma: 80,
      });
    },
  };
}

export const generateAlphaCommand = makeCommand({
  name: 'generate_alpha',
  summary: 'sample a run folder with the alpha perturbation 0, 0.1, 0.2 (generate_alpha.py)',
  what: `x += alpha t eps before every sampler step, alpha in {${ALPHA_SWEEP.join(', ')}}`,
  // Python's str() of 0, 0.1, 0.2 is what JavaScript prints: _alpha_0, _alpha_0.1.
  folder: 'ckpt_{kimg:06d}_alpha_{alpha}',
  variants: ALPHA_SWEEP.map((a) => ({ suffix: `_alpha_${a}`, tag: `${a}`, alpha: a })),
  skipExisting: true,
  check(v) {
    if (['solver', 'disc', 'schedule', 'scaling'].some((k) => v[k] !== undefined))
      throw new UsageError(
        'the alpha perturbation works with the EDM sampler only (no --solver, --disc, --schedule, --scaling)',
      );
  },
});

export const generateStepsCommand = makeCommand({
  name: 'generate_steps',
  summary: 'sample a run folder with 10, 12, ..., 24 sampler steps (generate_steps.py)',
  what: `the number of sampler steps in {${STEP_SWEEP.join(', ')}}`,
  folder: 'ckpt_{kimg:06d}_steps_{steps}',
  variants: STEP_SWEEP.map((n) => ({ suffix: `_steps_${n}`, tag: `steps_${n}`, numSteps: n })),
  skipExisting: true,
  check(v, io) {
    if (v.steps !== undefined) io.err('note: --steps is replaced by the sweep 10, 12, ..., 24\n');
  },
});

export const generateQuantCommand = makeCommand({
  name: 'generate_quant',
  summary: 'sample a run folder with weights quantized to 5..9 bits (generate_quant.py)',
  what:
    `weights fake-quantized per tensor to b bits, b in {${QUANT_BITS.join(', ')}} (names with 'weight' and\n` +
    "none of 'norm', 'affine', 'map', '32')",
  folder: 'ckpt_{kimg:06d}_quant_{bits}',
  variants: QUANT_BITS.map((b) => ({ suffix: `_quant_${b}`, tag: `quant_${b}`, bits: b })),
  skipExisting: false,
});
