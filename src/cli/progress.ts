/**
 * Progress for long commands: on a TTY one line rewritten in place with a bar; otherwise a plain line
 * at each step, so logs and CI output stay readable. Progress goes to standard error (callers pass it),
 * so that standard output carries results only.
 */
export interface Progress {
  update(done: number): void;
  /** Ends the progress line; `message` (a last line of progress, not a result) is optional. */
  finish(message?: string): void;
}

export function createProgress(
  stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
  label: string,
  total: number,
): Progress {
  const tty = Boolean(stream.isTTY);
  const started = Date.now();
  let lastPlain = -1;
  const render = (done: number) => {
    const pct = total === 0 ? 100 : Math.floor((done / total) * 100);
    const rate = Math.round(done / Math.max((Date.now() - started) / 1000, 0.001));
    if (tty) {
      const width = Math.max(10, Math.min(40, (stream.columns ?? 80) - 50));
      const filled = Math.round((pct / 100) * width);
      stream.write(
        `\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${pct}% ${done}/${total} (${rate}/s)\x1b[K`,
      );
    } else if (Math.floor(pct / 10) !== lastPlain) {
      lastPlain = Math.floor(pct / 10);
      stream.write(`${label}: ${done}/${total} (${pct}%)\n`);
    }
  };
  return {
    update: render,
    finish(message) {
      if (tty) stream.write('\r\x1b[K');
      if (message !== undefined) stream.write(`${message}\n`);
    },
  };
}
