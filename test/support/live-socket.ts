/**
 * A live-updates client for tests: the `ws` package (what @fastify/websocket
 * runs on), trusting only the test server's CA, with waits that time out.
 */
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';

/** The part of `ws`'s client used here (the package ships no types). */
interface WsClient {
  readyState: number;
  send(data: string | Buffer): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  on(event: 'open', listener: () => void): void;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  on(
    event: 'unexpected-response',
    listener: (req: { destroy(): void }, res: IncomingMessage) => void,
  ): void;
}
type WsConstructor = new (
  url: string,
  opts: { ca: string; headers?: Record<string, string>; origin?: string },
) => WsClient;

const WebSocket = createRequire(import.meta.url)('ws') as WsConstructor;

export type Frame = { type: string; [key: string]: unknown };

export interface LiveSocket {
  /** Every frame received so far, in order. */
  frames: Frame[];
  send(frame: unknown): void;
  /** Raw text or bytes, for malformed frames. */
  sendRaw(data: string | Buffer): void;
  /** The first frame after index `from` matching `match`; rejects after `timeoutMs`. */
  next(match: (f: Frame) => boolean, timeoutMs?: number, from?: number): Promise<Frame>;
  /** Resolves with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

/** Refused before the upgrade: the HTTP answer. */
export class Refused extends Error {
  readonly status: number;
  readonly body: string;
  constructor(status: number, body: string) {
    super(`WebSocket refused with ${status}: ${body}`);
    this.status = status;
    this.body = body;
  }
}

export function openLiveSocket(
  url: string,
  opts: { ca: string; headers?: Record<string, string>; origin?: string },
): Promise<LiveSocket> {
  const ws = new WebSocket(url.replace(/^https:/, 'wss:'), opts);
  const frames: Frame[] = [];
  const listeners = new Set<() => void>();
  let closeInfo: { code: number; reason: string } | null = null;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      closeInfo = { code, reason: reason.toString() };
      for (const l of listeners) l();
      resolve(closeInfo);
    });
  });
  ws.on('message', (data) => {
    frames.push(JSON.parse(data.toString('utf8')) as Frame);
    for (const l of listeners) l();
  });
  const socket: LiveSocket = {
    frames,
    send: (frame) => ws.send(JSON.stringify(frame)),
    sendRaw: (data) => ws.send(data),
    next(match, timeoutMs = 5000, from = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = frames.slice(from).find(match);
          if (found) finish(() => resolve(found));
          else if (closeInfo) {
            const info = closeInfo;
            finish(() =>
              reject(
                new Error(`socket closed (${info.code} ${info.reason}) before the frame came`),
              ),
            );
          }
        };
        const timer = setTimeout(
          () =>
            finish(() =>
              reject(new Error(`no such frame within ${timeoutMs} ms: ${JSON.stringify(frames)}`)),
            ),
          timeoutMs,
        );
        const finish = (then: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          then();
        };
        listeners.add(check);
        check();
      });
    },
    closed,
    close: () => ws.close(),
  };
  return new Promise((resolve, reject) => {
    ws.on('open', () => resolve(socket));
    ws.on('error', reject);
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      const refuse = () => {
        req.destroy();
        reject(new Refused(res.statusCode ?? 0, body));
      };
      res.on('end', refuse);
      res.on('close', refuse);
    });
  });
}
