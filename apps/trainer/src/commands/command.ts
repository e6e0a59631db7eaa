/** The shape of a subcommand: main.ts lists them in one table (train, generate, fid follow). */
import type { OptionSpec, OptionValues } from '../cli.ts';
import type { Io } from '../io.ts';

export interface Command {
  name: string;
  /** Other names it answers to (the original script's name, e.g. dataset_tool). */
  aliases?: readonly string[];
  /** One line for `pfgmpp --help`. */
  summary: string;
  usage: string;
  /** Paragraphs after the usage line in `pfgmpp NAME --help`. */
  description: string;
  options: readonly OptionSpec[];
  /** Arguments that are not options (e.g. a checkpoint file) are accepted. */
  takesArguments?: boolean;
  /** Runs with parsed options; throws UsageError for misuse, anything else for failures. */
  run(values: OptionValues, io: Io, positional: readonly string[]): Promise<void>;
}
