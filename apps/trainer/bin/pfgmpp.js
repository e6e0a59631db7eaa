#!/usr/bin/env node
// The project ships TypeScript sources, not a build: tsx compiles them on the fly.
//
// Dawn prints "Warning: max...PerPipelineLayout artificially reduced from ... to fit dynamic
// offset allocation limit." from native code while it discovers some adapters (lavapipe, RADV),
// whatever the device asks for, and nothing turns it off. Those lines tell a user nothing they
// can act on, so the command runs in a child process whose stderr passes through a filter that
// drops exactly them; everything else (progress lines included) is passed on as it comes.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const DAWN_LIMIT_WARNING =
  /^Warning: \w+ artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?$/;

if (process.env.PFGMPP_CLI_CHILD === '1') {
  const { register } = await import('tsx/esm/api');
  register();
  const { main, nodeIo } = await import('../src/main.ts');
  process.exitCode = await main(process.argv.slice(2), nodeIo());
} else {
  const child = spawn(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
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
