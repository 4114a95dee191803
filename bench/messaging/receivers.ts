/**
 * The receiving devices of bench/messaging/delivery.bench.ts, in a worker
 * thread: one device socket (GET /v1/messaging/ws, the `ws` package as
 * packages/cli/src/chat/socket.ts uses it) per device, each on the bearer
 * session its device is bound to. A receiver does what the real client
 * does on the wire — acknowledges every delivery (and every Welcome) as
 * soon as it arrives — but does not decrypt: the benchmark measures the
 * Delivery Service, not 1,000 MLS clients on two cores.
 *
 * workerData: { url, ca, conversations: string[], devices: { token, conversation }[], ackMs }
 *   (`conversation` indexes `conversations`). ackMs 0: every delivery is
 *   acknowledged on arrival, as the real client does; ackMs > 0: each
 *   socket acknowledges the highest position per conversation every ackMs
 *   (acks are cumulative, so this is the same protocol, fewer frames);
 *   ackMs < 0: no acks at all (an experiment: the server's rate when
 *   acknowledgements cost nothing; a run must stay under the delivery
 *   window of 256 messages per conversation).
 *
 * Messages in:  { type: 'record', on }  start/stop recording arrivals
 *               { type: 'await', expected, timeoutMs }  answer once `expected`
 *                 application deliveries were recorded (or at the timeout)
 *               { type: 'close' }
 * Messages out: { type: 'ready', ms, failed }  every socket said `ready`
 *               { type: 'arrivals', device, conversation, seq, at, complete, frames }
 *                 typed arrays, one entry per recorded delivery; `at` is
 *                 performance.timeOrigin + performance.now() on arrival
 *               { type: 'closed', unexpectedCloses }; { type: 'error', message }
 */
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';

interface WsClient {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  on(event: 'open', listener: () => void): void;
  on(event: 'message', listener: (data: Buffer) => void): void;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
}
type WsConstructor = new (
  url: string,
  opts: { ca: string; headers: Record<string, string>; minVersion: 'TLSv1.3'; maxPayload: number },
) => WsClient;
const WebSocket = createRequire(import.meta.url)('ws') as WsConstructor;

const { url, ca, conversations, devices, ackMs } = workerData as {
  url: string;
  ca: string;
  conversations: string[];
  devices: { token: string; conversation: number }[];
  ackMs: number;
};
const port = parentPort;
if (!port) throw new Error('receivers.ts runs as a worker');

const now = () => performance.timeOrigin + performance.now();
const conversationIndex = new Map(conversations.map((id, i) => [id, i]));

/** Recorded application deliveries, as parallel growable arrays. */
let arrivals = {
  device: [] as number[],
  conversation: [] as number[],
  seq: [] as number[],
  at: [] as number[],
};
let recording = false;
let frames = 0;
let unexpectedCloses = 0;
let closing = false;
let waiting: { expected: number; timer: NodeJS.Timeout } | null = null;
const sockets: WsClient[] = [];
/** With batched acks: per socket, the highest unacknowledged position per conversation. */
const unacked = new Map<WsClient, Map<string, number>>();
if (ackMs > 0) {
  setInterval(() => {
    for (const [ws, positions] of unacked) {
      for (const [conversation, seq] of positions)
        ws.send(JSON.stringify({ type: 'ack', conversation, seq }));
    }
    unacked.clear();
  }, ackMs).unref();
}

function answer(complete: boolean): void {
  if (waiting) clearTimeout(waiting.timer);
  waiting = null;
  const a = arrivals;
  arrivals = { device: [], conversation: [], seq: [], at: [] };
  const out = {
    type: 'arrivals',
    device: Uint32Array.from(a.device),
    conversation: Uint32Array.from(a.conversation),
    seq: Uint32Array.from(a.seq),
    at: Float64Array.from(a.at),
    complete,
    frames,
  };
  port?.postMessage(out, [
    out.device.buffer,
    out.conversation.buffer,
    out.seq.buffer,
    out.at.buffer,
  ]);
}

function open(index: number, token: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^https:/, 'wss:')}/v1/messaging/ws`, {
      ca,
      headers: { authorization: `Bearer ${token}` },
      minVersion: 'TLSv1.3',
      maxPayload: 16 * 1024 * 1024,
    });
    sockets.push(ws);
    let ready = false;
    ws.on('error', (err) => {
      if (!ready) reject(err);
    });
    ws.on('close', (code, reason) => {
      if (!ready) reject(new Error(`socket closed before ready: ${code} ${reason.toString()}`));
      else if (!closing) unexpectedCloses++;
    });
    ws.on('message', (data) => {
      const at = now();
      frames++;
      const frame = JSON.parse(data.toString('utf8')) as {
        type: string;
        conversation?: string;
        seq?: number;
        kind?: string;
        id?: string;
        message?: string;
      };
      switch (frame.type) {
        case 'ready':
          ready = true;
          resolve();
          return;
        case 'delivery': {
          const seq = frame.seq as number;
          const conversation = frame.conversation as string;
          if (recording && frame.kind === 'application') {
            arrivals.device.push(index);
            arrivals.conversation.push(conversationIndex.get(conversation) ?? 0xffffffff);
            arrivals.seq.push(seq);
            arrivals.at.push(at);
            if (waiting && arrivals.at.length >= waiting.expected) answer(true);
          }
          if (ackMs < 0) {
            // An experiment, not the protocol: what the server does when acks cost nothing.
          } else if (ackMs > 0) {
            let positions = unacked.get(ws);
            if (!positions) {
              positions = new Map();
              unacked.set(ws, positions);
            }
            positions.set(conversation, Math.max(seq, positions.get(conversation) ?? 0));
          } else {
            // What the real client sends once it has stored the delivery (cumulative per conversation).
            ws.send(JSON.stringify({ type: 'ack', conversation, seq }));
          }
          return;
        }
        case 'welcome':
          ws.send(JSON.stringify({ type: 'ack-welcome', id: frame.id }));
          return;
        case 'error':
          port?.postMessage({ type: 'error', message: `error frame: ${frame.message}` });
          return;
        default:
          return;
      }
    });
  });
}

port.on('message', (msg: { type: string; on?: boolean; expected?: number; timeoutMs?: number }) => {
  if (msg.type === 'record') {
    recording = msg.on === true;
  } else if (msg.type === 'await') {
    const expected = msg.expected ?? 0;
    waiting = { expected, timer: setTimeout(() => answer(false), msg.timeoutMs ?? 60_000) };
    if (arrivals.at.length >= expected) answer(true);
  } else if (msg.type === 'close') {
    closing = true;
    for (const ws of sockets) ws.close(1000, 'bench done');
    setTimeout(() => {
      port.postMessage({ type: 'closed', unexpectedCloses });
      process.exit(0);
    }, 500);
  }
});

const t0 = performance.now();
let failed = 0;
// A few at a time, as devices coming online: 1,000 TLS handshakes at once only measure the
// handshake queue.
for (let i = 0; i < devices.length; i += 20) {
  const batch = devices.slice(i, i + 20);
  const results = await Promise.allSettled(batch.map((d, k) => open(i + k, d.token)));
  for (const r of results) {
    if (r.status === 'rejected') {
      failed++;
      port.postMessage({ type: 'error', message: `socket: ${(r.reason as Error).message}` });
    }
  }
}
port.postMessage({ type: 'ready', ms: performance.now() - t0, failed });
