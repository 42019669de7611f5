/**
 * A webhook receiver for the notification tests: a real HTTP server on a loopback port that keeps every
 * request (headers, the exact body, when it came) and answers what the test sets: a status, a
 * Retry-After, or a dropped connection (`down`).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
  /** What the receiver answered: a status, or null when it dropped the connection. */
  answered: number | null;
}

export interface Receiver {
  url: string;
  received: ReceivedWebhook[];
  /** The status to answer (default 204), or 'down' to drop the connection. */
  answer: number | 'down';
  retryAfter: string | undefined;
  /** Resolves once `count` requests came, or rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedWebhook[]>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const receiver = { received: [], answer: 204, retryAfter: undefined } as unknown as Receiver;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const answer = receiver.answer;
      receiver.received.push({
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
        answered: answer === 'down' ? null : answer,
      });
      if (answer === 'down') return request.socket.destroy();
      response.writeHead(answer, receiver.retryAfter ? { 'retry-after': receiver.retryAfter } : {});
      response.end(answer >= 300 ? 'receiver says no' : '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks/cordon`;
  receiver.waitFor = async (count, timeoutMs = 5000) => {
    const until = Date.now() + timeoutMs;
    while (receiver.received.length < count) {
      if (Date.now() > until) throw new Error(`the receiver got ${receiver.received.length} of ${count} webhooks`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return receiver.received;
  };
  receiver.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return receiver;
}
