/** The shape of a subcommand: main.ts lists them in one table (train, generate, fid follow). */
import type { OptionSpec, OptionValues } from '../cli.ts';
import type { Io } from '../io.ts';

export interface Command {
  name: string;
  /** One line for `pfgmpp --help`. */
  summary: string;
  usage: string;
  /** Paragraphs after the usage line in `pfgmpp NAME --help`. */
  description: string;
  options: readonly OptionSpec[];
  /** Runs with parsed options; throws UsageError for misuse, anything else for failures. */
  run(values: OptionValues, io: Io): Promise<void>;
}
