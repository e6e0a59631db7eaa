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

/** "1h 02m", "3m 07s", "12s". */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/**
 * A progress line "label done/total images, R images/s, ETA T": redrawn on a terminal (at most
 * every 200 ms), otherwise one line per tenth of the work. The rate counts this run's images.
 */
export function rateProgress(io: Io, label: string, total: number, from: number) {
  const start = performance.now();
  let last = 0;
  let tenth = Math.floor((from * 10) / Math.max(total, 1));
  let open = false;
  const text = (done: number) => {
    const sec = (performance.now() - start) / 1000;
    const rate = (done - from) / Math.max(sec, 1e-9);
    const eta = done < total ? `, ETA ${duration((total - done) / rate)}` : ` in ${duration(sec)}`;
    return `${label} ${done}/${total} images, ${rate.toFixed(rate < 10 ? 2 : 1)} images/s${eta}`;
  };
  return {
    update(done: number): void {
      if (io.isTTY) {
        const now = performance.now();
        if (done < total && now - last < 200) return;
        last = now;
        io.err(`\r${text(done)}\x1b[K${done === total ? '\n' : ''}`);
        open = done < total;
        return;
      }
      const t = Math.floor((done * 10) / Math.max(total, 1));
      if (t !== tenth || done === total) io.err(`${text(done)}\n`);
      tenth = t;
    },
    /** A line of its own (checkpoints, notes) between progress lines. */
    note(line: string): void {
      io.err(`${open ? '\n' : ''}${line}\n`);
      open = false;
    },
    end(): void {
      if (open) io.err('\n');
      open = false;
    },
  };
}
