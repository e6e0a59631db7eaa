/** Where the CLI writes: the process's streams, or captured text in tests. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Whether stderr is a terminal (progress lines are redrawn in place there). */
  isTTY: boolean;
  /** Print stack traces of failures (PFGMPP_DEBUG=1). */
  debug?: boolean;
}

export function nodeIo(): Io {
  return {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    // bin/pfgmpp.js runs the CLI behind a pipe and says whether its own stderr is a terminal.
    isTTY:
      process.env.PFGMPP_STDERR_TTY === undefined
        ? Boolean(process.stderr.isTTY)
        : process.env.PFGMPP_STDERR_TTY === '1',
    debug: process.env.PFGMPP_DEBUG === '1',
  };
}

/**
 * A progress line "label done/total images": redrawn in place on a terminal (at most every
 * 100 ms), otherwise one line at every tenth of the work.
 */
export function progress(io: Io, label: string) {
  let last = 0;
  let step = -1;
  let open = false;
  const line = (done: number, total: number) => `${label} ${done}/${total} images`;
  return {
    update(done: number, total: number): void {
      if (io.isTTY) {
        const now = Date.now();
        if (done < total && now - last < 100) return;
        last = now;
        io.err(`\r${line(done, total)}`);
        open = true;
        if (done === total) {
          io.err('\n');
          open = false;
        }
        return;
      }
      const tenth = Math.floor((done * 10) / Math.max(total, 1));
      if (tenth !== step) {
        step = tenth;
        io.err(`${line(done, total)}\n`);
      }
    },
    /** Ends a line left open by an interrupted run, so an error starts on its own line. */
    end(): void {
      if (open) io.err('\n');
      open = false;
    },
  };
}
