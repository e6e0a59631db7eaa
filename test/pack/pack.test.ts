/**
 * The packages as a user gets them: `npm pack` of every publishable package (prepack builds it),
 * the tarballs installed into an empty project in the OS temp folder (registry dependencies as
 * usual), then, with nothing of the monorepo on the resolution path:
 *
 * - every file the installed packages ship resolves what it imports: relative imports and
 *   `new URL(..., import.meta.url)` files inside the package, bare imports among its
 *   `dependencies`, every `exports`/`bin` target present (a file left out of `files`, a missing
 *   `types` path or an undeclared dependency fails here, by name);
 * - every export entry imports under plain `node`;
 * - `npx pfgmpp generate` with the shipped checkpoint writes PNGs;
 * - the README's library example (examples/library/node.mjs) runs with plain `node`, and its
 *   pixels equal the command line's for the same seeds;
 * - `tsc --noEmit` (the repository's TypeScript, NodeNext resolution, no skipLibCheck)
 *   type-checks the example against the shipped .d.ts;
 * - the browser example (examples/library/browser.js), bundled by Vite from the installed
 *   packages, samples the same digits in headless Chromium (WebGPU on SwiftShader), each pixel
 *   within one grey level of Node's (apps/viewer/test/viewer.test.ts says why not bit-equal).
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { decodePng } from '@pfgmpp/io/node';
import { GPU_SKIP_REASON } from '@pfgmpp/test-utils';
import { browserSkipReason, openServedPage } from '@pfgmpp/test-utils/browser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
/** Dependencies first: prepack of each builds against the dist/ of the ones before it. */
const PACKAGES: Record<string, string> = {
  '@pfgmpp/tensor': 'packages/tensor',
  '@pfgmpp/io': 'packages/io',
  '@pfgmpp/nn': 'packages/nn',
  '@pfgmpp/pfgmpp': 'packages/pfgmpp',
  '@pfgmpp/fid': 'packages/fid',
  '@pfgmpp/cli': 'apps/trainer',
};
const EXAMPLE = join(ROOT, 'examples/library/node.mjs');
const BROWSER_EXAMPLE = join(ROOT, 'examples/library/browser.js');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const VITE = join(ROOT, 'node_modules/vite/bin/vite.js');
const BROWSER_SKIP_REASON = GPU_SKIP_REASON ?? browserSkipReason('packed browser example');
const NETWORK = 'node_modules/@pfgmpp/cli/assets/mnist16-pfgmpp-d128.safetensors';
const SEEDS = 8;

const work = mkdtempSync(join(tmpdir(), 'pfgmpp-pack-'));
const packs = join(work, 'packs');
const project = join(work, 'project');

function run(cmd: string, args: string[], cwd: string, timeout = 600_000) {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    timeout,
    // No workspace or tsx settings of the monorepo leak into the user's project.
    env: { ...process.env, NODE_OPTIONS: '', npm_config_workspace: '', npm_config_workspaces: '' },
  });
  const text = `${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status}\n${r.stdout}\n${r.stderr}`;
  return { ...r, text };
}

/** Every file under `dir`, as paths relative to it. */
function walk(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name), base) : [relative(base, join(dir, e.name))],
  );
}

const IMPORTS = [
  /^\s*(?:import|export)\s[^;]*?\bfrom\s*['"]([^'"]+)['"]/gm,
  /^\s*import\s*['"]([^'"]+)['"]/gm,
  /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  /\bimport\.meta\.resolve\(\s*['"]([^'"]+)['"]\s*\)/g,
  /\brequire\(\s*['"]([^'"]+)['"]\s*\)/g,
  /createRequire\([^)]*\)\(\s*['"]([^'"]+)['"]\s*\)/g,
];
/**
 * The only references allowed to point outside a package: the launcher's PFGMPP_FROM_SOURCE=1
 * path (a checkout of the repository: tsx and src/), which checks first that src/ is there.
 */
const ALLOWED = new Set([
  '@pfgmpp/cli/bin/pfgmpp.js ../src/main.ts',
  '@pfgmpp/cli/bin/pfgmpp.js tsx',
]);
const URL_FILES = /new URL\(\s*['"]([^'"]+)['"]\s*,\s*import\.meta\.url\s*\)/g;

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
}

/** What an installed package ships but cannot resolve, one line each. */
function unresolved(name: string): string[] {
  const dir = join(project, 'node_modules', name);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const deps = new Set([
    name,
    ...Object.keys(pkg.dependencies ?? {}),
    ...Object.keys(pkg.peerDependencies ?? {}),
  ]);
  const problems: string[] = [];
  const targets = (v: unknown, where: string): [string, string][] =>
    typeof v === 'string'
      ? [[where, v]]
      : Object.entries(v as Record<string, unknown>).flatMap(([k, w]) =>
          k === 'pfgmpp-source' ? [] : targets(w, `${where} ${k}`),
        );
  for (const [key, v] of Object.entries(pkg.exports ?? {})) {
    if (key.includes('*')) continue;
    const conditions = targets(v, key);
    for (const [where, target] of conditions) {
      if (!existsSync(join(dir, target)))
        problems.push(`${name}: exports ${where} -> ${target} is not in the package`);
    }
    if (typeof v === 'object' && v !== null && 'import' in v && !('types' in v)) {
      problems.push(`${name}: exports ${key} has no types`);
    }
  }
  for (const target of Object.values<string>(pkg.bin ?? {})) {
    if (!existsSync(join(dir, target)))
      problems.push(`${name}: bin ${target} is not in the package`);
  }
  for (const file of walk(dir).filter(
    (f) => /\.(m?js|d\.ts)$/.test(f) && !f.startsWith('node_modules'),
  )) {
    const text = readFileSync(join(dir, file), 'utf8');
    const specifiers = new Set(
      IMPORTS.flatMap((re) => [...text.matchAll(re)].map((m) => m[1] as string)),
    );
    for (const s of specifiers) {
      if (ALLOWED.has(`${name}/${file} ${s}`)) continue;
      if (s.startsWith('.')) {
        const path = resolve(dir, dirname(file), s);
        const candidates = file.endsWith('.d.ts')
          ? [path, path.replace(/\.(ts|js)$/, '.d.ts')]
          : [path];
        if (!candidates.some((c) => existsSync(c) && c.startsWith(dir))) {
          problems.push(`${name}/${file}: imports ${s}, which is not in the package`);
        }
      } else if (
        !s.startsWith('node:') &&
        !builtinModules.includes(s) &&
        !deps.has(packageName(s))
      ) {
        problems.push(`${name}/${file}: imports ${s}, which is not among its dependencies`);
      }
    }
    for (const m of text.matchAll(URL_FILES)) {
      if (
        !ALLOWED.has(`${name}/${file} ${m[1]}`) &&
        !existsSync(resolve(dir, dirname(file), m[1] as string))
      ) {
        problems.push(`${name}/${file}: reads ${m[1]} next to itself, which is not in the package`);
      }
    }
  }
  return problems;
}

beforeAll(() => {
  mkdirSync(packs);
  mkdirSync(project);
  const tarballs: string[] = [];
  for (const name of Object.keys(PACKAGES)) {
    const r = run('npm', ['pack', '--json', '--pack-destination', packs, '-w', name], ROOT);
    if (r.status !== 0) throw new Error(r.text);
    const [info] = JSON.parse(r.stdout.slice(r.stdout.indexOf('['))) as { filename: string }[];
    tarballs.push(join(packs, (info as { filename: string }).filename));
  }
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'pfgmpp-consumer', private: true, type: 'module' }, null, 2),
  );
  writeFileSync(join(project, 'node.mjs'), readFileSync(EXAMPLE));
  writeFileSync(join(project, 'browser.js'), readFileSync(BROWSER_EXAMPLE));
  const r = run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--loglevel=error',
      ...tarballs,
      '@types/node@^20',
    ],
    project,
  );
  if (r.status !== 0) throw new Error(r.text);
}, 1_200_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the packed packages installed in an empty project', () => {
  it('installs the tarballs, not the workspace: no link back into the repository', () => {
    for (const name of Object.keys(PACKAGES)) {
      const dir = join(project, 'node_modules', name);
      expect(existsSync(join(dir, 'package.json')), name).toBe(true);
      expect(existsSync(join(dir, 'src')), `${name} ships src/`).toBe(false);
      expect(readFileSync(join(dir, 'README.md'), 'utf8'), name).toMatch(new RegExp(`^# ${name}`));
    }
  });

  it('every shipped file resolves its imports, and every exports/bin target is there', () => {
    expect(Object.keys(PACKAGES).flatMap(unresolved).join('\n')).toBe('');
  });

  it('the WGSL travels inside @pfgmpp/tensor, the checkpoints inside @pfgmpp/cli', () => {
    const tensor = join(project, 'node_modules/@pfgmpp/tensor/dist/generated/shaders.js');
    expect(readFileSync(tensor, 'utf8')).toMatch(/@compute/);
    expect(existsSync(join(project, NETWORK))).toBe(true);
  });

  it('every export entry imports under plain node', () => {
    const entries = Object.keys(PACKAGES)
      .filter((n) => n !== '@pfgmpp/cli')
      .flatMap((name) => {
        const pkg = JSON.parse(
          readFileSync(join(ROOT, PACKAGES[name] as string, 'package.json'), 'utf8'),
        );
        return Object.keys(pkg.exports)
          .filter((k) => k !== './package.json')
          .map((k) => (k === '.' ? name : `${name}/${k.slice(2)}`));
      });
    const script = `for (const e of ${JSON.stringify(entries)}) await import(e);`;
    const r = run(process.execPath, ['--input-type=module', '-e', script], project);
    expect(r.status, r.text).toBe(0);
  });

  it('tsc type-checks the library examples against the shipped .d.ts (NodeNext, no skipLibCheck)', () => {
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2023', 'DOM'],
          types: ['node'],
          strict: true,
          allowJs: true,
          checkJs: true,
          noEmit: true,
          skipLibCheck: false,
        },
        files: ['node.mjs', 'browser.js'],
      }),
    );
    const r = run(process.execPath, [TSC, '-p', '.'], project);
    expect(r.status, r.text).toBe(0);
  });

  /** The node example's strip of SEEDS digits as [SEEDS, 1, 16, 16] uint8 (runs it once). */
  function nodeDigits(): Uint8Array {
    const png = join(project, 'digits.png');
    if (!existsSync(png)) {
      const lib = run(process.execPath, ['node.mjs', 'digits.png'], project);
      expect(lib.status, lib.text).toBe(0);
    }
    const strip = decodePng(readFileSync(png));
    const S = 16;
    expect([strip.width, strip.height, strip.channels]).toEqual([SEEDS * S, S, 1]);
    const out = new Uint8Array(strip.data.length);
    for (let i = 0; i < out.length; i++) {
      const [n, y, x] = [Math.floor(i / (S * S)), Math.floor(i / S) % S, i % S];
      out[i] = strip.data[y * strip.width + n * S + x] as number;
    }
    return out;
  }

  describe.skipIf(GPU_SKIP_REASON)('on the GPU', () => {
    it('npx pfgmpp generate with the shipped checkpoint writes PNGs; the library example draws the same digits', () => {
      const cli = run(
        'npx',
        [
          '--no-install',
          'pfgmpp',
          'generate',
          '--network',
          NETWORK,
          '--seeds',
          `0-${SEEDS - 1}`,
          '--outdir',
          'out',
        ],
        project,
      );
      expect(cli.status, cli.text).toBe(0);
      const files = readdirSync(join(project, 'out')).sort();
      expect(files).toEqual(
        Array.from({ length: SEEDS }, (_, i) => `${String(i).padStart(6, '0')}.png`),
      );

      const digits = nodeDigits();
      const plane = 16 * 16;
      for (let n = 0; n < SEEDS; n++) {
        const one = decodePng(readFileSync(join(project, 'out', files[n] as string)));
        const fromStrip = digits.subarray(n * plane, (n + 1) * plane);
        expect(Buffer.from(fromStrip).equals(Buffer.from(one.data)), `seed ${n}`).toBe(true);
      }
    });
  });
  it.skipIf(BROWSER_SKIP_REASON)(
    'the browser example, bundled by Vite from the installed packages, draws the same digits in Chromium',
    async () => {
      const web = join(project, 'web');
      mkdirSync(join(web, 'public'), { recursive: true });
      writeFileSync(join(web, 'browser.js'), readFileSync(BROWSER_EXAMPLE));
      writeFileSync(
        join(web, 'index.html'),
        '<!doctype html>\n<html><head><link rel="icon" href="data:,"></head>' +
          '<body><script type="module" src="./browser.js"></script></body></html>\n',
      );
      writeFileSync(
        join(web, 'public', 'mnist16-pfgmpp-d128.safetensors'),
        readFileSync(join(project, NETWORK)),
      );
      const built = run(
        process.execPath,
        [VITE, 'build', '--base', './', '--target', 'es2022', '--logLevel', 'warn'],
        web,
      );
      expect(built.status, built.text).toBe(0);
      const expected = nodeDigits();
      const { page, url, problems, close } = await openServedPage(join(web, 'dist'));
      try {
        await page.goto(url);
        await page
          .waitForFunction(() => 'digits' in window, undefined, {
            timeout: 600_000,
            polling: 500,
          })
          .catch((e: unknown) => {
            throw new Error(`${e}\n${problems.join('\n')}`);
          });
        const digits = await page.evaluate(
          () => (window as unknown as { digits: number[] }).digits,
        );
        expect(problems).toEqual([]);
        expect(digits.length).toBe(expected.length);
        let maxPixel = 0;
        let differ = 0;
        for (let i = 0; i < expected.length; i++) {
          const d = Math.abs((digits[i] as number) - (expected[i] as number));
          maxPixel = Math.max(maxPixel, d);
          if (d) differ++;
        }
        console.log(
          `Chromium vs Node: max pixel difference ${maxPixel}, ${differ} of ${expected.length} differ`,
        );
        expect(maxPixel).toBeLessThanOrEqual(1);
      } finally {
        await close();
      }
    },
    900_000,
  );
});
