import { request } from 'node:https';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: unknown;
}

/** A plain HTTPS request trusting only the given CA (as a real client would). */
export function httpsRequest(
  url: string,
  opts: { ca: string | null; method?: string; body?: unknown; headers?: Record<string, string> },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // Bytes go as they are (uploads); anything else as JSON.
    const payload =
      opts.body === undefined
        ? undefined
        : opts.body instanceof Uint8Array
          ? Buffer.from(opts.body)
          : JSON.stringify(opts.body);
    const req = request(
      url,
      {
        method: opts.method ?? 'GET',
        ...(opts.ca ? { ca: opts.ca } : {}),
        minVersion: 'TLSv1.3',
        headers: {
          ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          let json: unknown = null;
          try {
            json = JSON.parse(body);
          } catch {}
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
        });
      },
    );
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}
