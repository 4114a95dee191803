import { createHash } from 'node:crypto';

/**
 * DNS over HTTPS (RFC 8484) as transport-neutral checks: the server's HTTP
 * layer hands over method, content type, the `dns` parameter and the body,
 * and gets back either the query's bytes or the HTTP status to answer with
 * and why. The answer is then `application/dns-message`.
 */
export const dohContentType = 'application/dns-message';

export type DohRequest =
  | { ok: true; query: Uint8Array }
  | { ok: false; status: 400 | 405 | 413 | 415; message: string };

/** RFC 8484 §6: a DNS message is at most 65535 octets; queries far less. */
export const maxDohQueryBytes = 4096;

export function readDohRequest(request: {
  method: string;
  contentType: string | undefined;
  dnsParam: string | undefined;
  body: unknown;
}): DohRequest {
  if (request.method === 'GET' || request.method === 'HEAD') {
    const param = request.dnsParam;
    if (param === undefined || param === '') {
      return {
        ok: false,
        status: 400,
        message: 'GET needs the query in the dns parameter (base64url)',
      };
    }
    if (!/^[A-Za-z0-9_-]+$/.test(param)) {
      return {
        ok: false,
        status: 400,
        message: 'the dns parameter is not base64url (RFC 4648 §5, unpadded)',
      };
    }
    if (param.length > Math.ceil((maxDohQueryBytes * 4) / 3)) {
      return { ok: false, status: 413, message: `a query is at most ${maxDohQueryBytes} bytes` };
    }
    return { ok: true, query: Buffer.from(param, 'base64url') };
  }
  if (request.method === 'POST') {
    const type = request.contentType?.split(';')[0]?.trim().toLowerCase();
    if (type !== dohContentType) {
      return { ok: false, status: 415, message: `POST bodies must be ${dohContentType}` };
    }
    if (!(request.body instanceof Uint8Array)) {
      return { ok: false, status: 400, message: 'the body is empty' };
    }
    if (request.body.length > maxDohQueryBytes) {
      return { ok: false, status: 413, message: `a query is at most ${maxDohQueryBytes} bytes` };
    }
    return { ok: true, query: request.body };
  }
  return { ok: false, status: 405, message: 'DNS over HTTPS takes GET or POST' };
}

/** The per-device URL token is kept (and compared) only as its SHA-256. */
export function hashClientToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
