import { describe, expect, it } from 'vitest';
import { createProgress } from './progress.js';

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return {
    chunks,
    stream: { write: (s: string) => chunks.push(s) > 0, isTTY, columns: 80 } as unknown as NodeJS.WritableStream & {
      isTTY: boolean;
    },
  };
}

describe('progress', () => {
  it('rewrites one line with a bar on a TTY', () => {
    const { chunks, stream } = sink(true);
    const p = createProgress(stream, 'importing', 200);
    p.update(100);
    p.update(200);
    p.finish('done');
    expect(chunks[0]).toMatch(/^\rimporting \[#{15}-{15}\] 50% 100\/200 \(\d+\/s\)\x1b\[K$/);
    expect(chunks[1]).toMatch(/^\rimporting \[#{30}\] 100% 200\/200/);
    expect(chunks.slice(2)).toEqual(['\r\x1b[K', 'done\n']);
  });

  it('prints a plain line per tenth otherwise', () => {
    const { chunks, stream } = sink(false);
    const p = createProgress(stream, 'importing', 1000);
    for (let done = 100; done <= 1000; done += 50) p.update(done);
    p.finish('done');
    expect(chunks).toEqual([
      ...Array.from({ length: 10 }, (_, i) => `importing: ${(i + 1) * 100}/1000 (${(i + 1) * 10}%)\n`),
      'done\n',
    ]);
  });
});
