/**
 * The board watchers of bench/kanban/board.bench.ts, in a worker thread of
 * their own so that reading 200 sockets does not compete with the server
 * for the main thread's event loop (the server runs in-process there).
 *
 * workerData: { url, ca, project, tokens: string[] } — one socket per token
 * (tokens repeat: at most 32 sockets per account per node).
 *
 * Messages in:  { type: 'expect', issueId, t0 } — report when every socket
 *               has received an `event` frame naming issueId; t0 is an
 *               absolute time (performance.timeOrigin + performance.now()).
 *               { type: 'close' }
 * Messages out: { type: 'ready', ms } once every socket is subscribed;
 *               { type: 'delivered', issueId, latencies: number[], missing }
 *               { type: 'closed' }; { type: 'error', message }
 */
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';

interface WsClient {
  send(data: string): void;
  close(): void;
  on(event: 'open' | 'close', listener: () => void): void;
  on(event: 'message', listener: (data: Buffer) => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
}
type WsConstructor = new (
  url: string,
  opts: { ca: string; headers: Record<string, string> },
) => WsClient;
const WebSocket = createRequire(import.meta.url)('ws') as WsConstructor;

const { url, ca, project, tokens } = workerData as {
  url: string;
  ca: string;
  project: string;
  tokens: string[];
};
const port = parentPort;
if (!port) throw new Error('watchers.ts runs as a worker');

const now = () => performance.timeOrigin + performance.now();
/** issueId → receive times, one per socket that got its event (absolute ms). */
const received = new Map<string, number[]>();
let waiting: { issueId: string; t0: number; timer: NodeJS.Timeout } | null = null;
const sockets: WsClient[] = [];

function settle(force: boolean) {
  if (!waiting) return;
  const times = received.get(waiting.issueId) ?? [];
  if (!force && times.length < tokens.length) return;
  const { issueId, t0, timer } = waiting;
  clearTimeout(timer);
  waiting = null;
  port?.postMessage({
    type: 'delivered',
    issueId,
    latencies: times.map((t) => t - t0),
    missing: tokens.length - times.length,
  });
  received.delete(issueId);
}

function open(token: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^https:/, 'wss:')}/v1/ws`, {
      ca,
      headers: { authorization: `Bearer ${token}` },
    });
    sockets.push(ws);
    ws.on('error', reject);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', project })));
    ws.on('close', () => reject(new Error('socket closed before it subscribed')));
    ws.on('message', (data) => {
      const at = now();
      const frame = JSON.parse(data.toString('utf8')) as {
        type: string;
        event?: { type?: string; issues?: string[] };
        message?: string;
      };
      if (frame.type === 'subscribed') resolve();
      else if (frame.type === 'error') reject(new Error(`error frame: ${frame.message}`));
      else if (frame.type === 'event' && Array.isArray(frame.event?.issues)) {
        for (const id of frame.event.issues) {
          let list = received.get(id);
          if (!list) {
            list = [];
            received.set(id, list);
          }
          list.push(at);
        }
        settle(false);
      }
    });
  });
}

port.on('message', (msg: { type: string; issueId?: string; t0?: number }) => {
  if (msg.type === 'expect' && msg.issueId && msg.t0 !== undefined) {
    waiting = {
      issueId: msg.issueId,
      t0: msg.t0,
      timer: setTimeout(() => settle(true), 30_000),
    };
    settle(false);
  } else if (msg.type === 'close') {
    for (const ws of sockets) ws.close();
    port.postMessage({ type: 'closed' });
    setTimeout(() => process.exit(0), 200).unref();
  }
});

const t0 = performance.now();
try {
  // A few at a time, as clients arriving: 200 TLS handshakes at once only measure the handshake queue.
  for (let i = 0; i < tokens.length; i += 20) {
    await Promise.all(tokens.slice(i, i + 20).map((t) => open(t)));
  }
  port.postMessage({ type: 'ready', ms: performance.now() - t0 });
} catch (err) {
  port.postMessage({ type: 'error', message: (err as Error).message });
}
