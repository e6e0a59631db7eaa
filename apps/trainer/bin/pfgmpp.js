#!/usr/bin/env node
// Runs the compiled command line (dist/main.js, `npm run build` in a checkout; the npm package
// ships it). PFGMPP_FROM_SOURCE=1 runs the TypeScript sources through tsx instead (a checkout
// with its dev dependencies: the workspace packages then resolve to their src/ as well).
//
// Dawn prints "Warning: max...PerPipelineLayout artificially reduced from ... to fit dynamic
// offset allocation limit." from native code while it discovers some adapters (lavapipe, RADV),
// whatever the device asks for, and nothing turns it off. Those lines tell a user nothing they
// can act on, so the command runs in a child process whose stderr passes through a filter that
// drops exactly them; everything else (progress lines included) is passed on as it comes.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DAWN_LIMIT_WARNING =
  /^Warning: \w+ artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?$/;

const FROM_SOURCE = process.env.PFGMPP_FROM_SOURCE === '1';
const COMPILED = new URL('../dist/main.js', import.meta.url);

if (process.env.PFGMPP_CLI_CHILD === '1') {
  const { main, nodeIo } = FROM_SOURCE
    ? await import('../src/main.ts')
    : await import(COMPILED.href);
  process.exitCode = await main(process.argv.slice(2), nodeIo());
} else if (!FROM_SOURCE && !existsSync(COMPILED)) {
  process.stderr.write(
    `pfgmpp: ${fileURLToPath(COMPILED)} is missing: run \`npm run build\` at the repository root ` +
      '(or set PFGMPP_FROM_SOURCE=1 to run the TypeScript sources through tsx)\n',
  );
  process.exitCode = 1;
} else if (FROM_SOURCE && !existsSync(new URL('../src/main.ts', import.meta.url))) {
  process.stderr.write(
    'pfgmpp: PFGMPP_FROM_SOURCE=1 needs a checkout of the repository (no src/)\n',
  );
  process.exitCode = 1;
} else {
  // From source: tsx compiles on the fly and the workspace packages resolve to their src/.
  const sourceArgs = FROM_SOURCE
    ? ['--conditions=pfgmpp-source', '--import', import.meta.resolve('tsx')]
    : [];
  const child = spawn(
    process.execPath,
    [...process.execArgv, ...sourceArgs, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    {
      stdio: ['inherit', 'inherit', 'pipe'],
      env: {
        ...process.env,
        PFGMPP_CLI_CHILD: '1',
        // The child's stderr is a pipe: tell it whether ours is a terminal (progress redraws).
        PFGMPP_STDERR_TTY: process.stderr.isTTY ? '1' : '0',
      },
    },
  );
  let partial = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    const kept = lines.filter((l) => !DAWN_LIMIT_WARNING.test(l));
    let text = kept.length > 0 ? `${kept.join('\n')}\n` : '';
    // An unfinished line (a progress redraw ending in \r) goes out now; a warning arrives whole.
    if (partial && !partial.startsWith('Warning: ')) {
      text += partial;
      partial = '';
    }
    if (text) process.stderr.write(text);
  });
  child.stderr.on('end', () => {
    if (partial && !DAWN_LIMIT_WARNING.test(partial)) process.stderr.write(partial);
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => child.kill(signal));
  }
  child.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exitCode = code ?? 1;
  });
}
