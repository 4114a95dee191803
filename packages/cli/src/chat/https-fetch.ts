import { Agent, request } from 'node:https';
import { getCACertificates } from 'node:tls';
import { type FetchLike, maxAttachmentBytes, TransportError } from '@bulwark/chat';

/** `fetch` over node:https, trusting only `ca` when given (Node's fetch takes no CA option). */
export function httpsFetch(ca?: string): FetchLike & { close(): void } {
  const agent = new Agent({
    minVersion: 'TLSv1.3',
    keepAlive: true,
    ca: ca ?? [...new Set([...getCACertificates('default'), ...getCACertificates('system')])],
  });
  const fetchImpl: FetchLike = (url, init) =>
    new Promise((resolve, reject) => {
      const headers = { ...init.headers };
      if (init.body) headers['content-length'] = String(init.body.byteLength);
      const req = request(url, { method: init.method, headers, agent, timeout: 60_000 }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxAttachmentBytes) {
            res.destroy(new TransportError('the answer is too large'));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', reject);
        res.on('end', () => {
          const all = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            arrayBuffer: async () =>
              all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer,
          });
        });
      });
      req.on('timeout', () => req.destroy(new TransportError(`${url} did not answer in time`)));
      req.on('error', reject);
      req.end(init.body);
    });
  return Object.assign(fetchImpl, { close: () => agent.destroy() });
}
