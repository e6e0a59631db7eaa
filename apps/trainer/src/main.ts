/**
 * pfgmpp: the command line. `pfgmpp COMMAND [options]`; each command is one entry of COMMANDS.
 * Exit status: 0 done, 1 failed (a one-line message naming the file and the problem), 2 misuse
 * of the command line. Set PFGMPP_DEBUG=1 to see stack traces.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { formatOptions, parseOptions, UsageError } from './cli.ts';
import type { Command } from './commands/command.ts';
import { datasetCommand } from './commands/dataset.ts';
import { fidCommand } from './commands/fid.ts';
import { demoCommand } from './commands/demo.ts';
import { denoiseCommand } from './commands/denoise.ts';
import { generateCommand } from './commands/generate.ts';
import { qualityCommand } from './commands/quality.ts';
import { robustnessCommand } from './commands/robustness.ts';
import {
  generateAlphaCommand,
  generateQuantCommand,
  generateStepsCommand,
} from './commands/generate-sweeps.ts';
import { inspectCommand } from './commands/inspect.ts';
import { trainCommand } from './commands/train.ts';
import { type Io, nodeIo } from './io.ts';

export { nodeIo };

export const COMMANDS: readonly Command[] = [
  demoCommand,
  trainCommand,
  generateCommand,
  generateAlphaCommand,
  generateStepsCommand,
  generateQuantCommand,
  denoiseCommand,
  qualityCommand,
  robustnessCommand,
  datasetCommand,
  inspectCommand,
  fidCommand,
];

export function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 4;
  return [
    'Usage: pfgmpp COMMAND [options]',
    '',
    'PFGM++ / EDM generative models on WebGPU.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Official script names work too: train, generate, generate_alpha, generate_steps,',
    'generate_quant, fid and dataset_tool (= dataset) take the original command lines unchanged.',
    '',
    "Run 'pfgmpp COMMAND --help' for the options of a command.",
    '',
  ].join('\n');
}

export function commandHelp(c: Command): string {
  return `Usage: ${c.usage}\n\n${c.description}\n\nOptions:\n${formatOptions(c.options)}\n`;
}

/** One line: a message never spreads over several lines or shows a stack trace. */
const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ').trim();

/** Runs the CLI on `argv` (without node and script) and returns the exit status. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.err("pfgmpp: missing command (try 'pfgmpp --help')\n");
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    io.out(topHelp());
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name || c.aliases?.includes(name));
  if (!command) {
    const list = COMMANDS.map((c) => c.name).join(', ');
    io.err(`pfgmpp: unknown command '${name}' (commands: ${list}; try 'pfgmpp --help')\n`);
    return 2;
  }
  const prefix = `pfgmpp ${command.name}`;
  try {
    const parsed = parseOptions(rest, command.options, command.takesArguments === true);
    if (parsed.help) {
      io.out(commandHelp(command));
      return 0;
    }
    await command.run(parsed.values, io, parsed.positional);
    return 0;
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    if (err instanceof UsageError) {
      io.err(`${prefix}: ${oneLine(err.message)} (try '${prefix} --help')\n`);
      return 2;
    }
    io.err(`${prefix}: error: ${oneLine(err.message)}\n`);
    if (io.debug && err.stack) io.err(`${err.stack}\n`);
    return 1;
  }
}

// Run when executed directly (`node dist/main.js ...`, `tsx --conditions=pfgmpp-source src/main.ts ...`), not when imported.
const script = process.argv[1];
if (script && import.meta.url === pathToFileURL(realpathSync(script)).href) {
  process.exitCode = await main(process.argv.slice(2), nodeIo());
}
