/**
 * The few checks the upstream side makes on DNS messages, done on the raw
 * bytes (no full decode on the hot path): a query must be one well-formed
 * question, and an answer must be a response to exactly that question.
 * Everything an upstream sends is untrusted input (SECURITY.md: bounded
 * parsers only).
 */

/** A DNS message over a stream is at most 65535 octets (the 2-octet length of RFC 1035 §4.2.2). */
export const MAX_MESSAGE = 65_535;

const HEADER = 12;
/** RFC 1035 §2.3.4: a name is at most 255 octets on the wire. */
const MAX_NAME = 255;

export const RCODE_SERVFAIL = 2;
export const RCODE_REFUSED = 5;

export function messageId(message: Uint8Array): number {
  return ((message[0] ?? 0) << 8) | (message[1] ?? 0);
}

/** A copy of `message` carrying `id` (the caller's bytes are never changed). */
export function withId(message: Uint8Array, id: number): Uint8Array {
  const copy = new Uint8Array(message);
  copy[0] = (id >> 8) & 0xff;
  copy[1] = id & 0xff;
  return copy;
}

export function rcodeOf(message: Uint8Array): number {
  return (message[3] ?? 0) & 0x0f;
}

const isResponse = (m: Uint8Array) => ((m[2] ?? 0) & 0x80) !== 0;
const opcodeOf = (m: Uint8Array) => ((m[2] ?? 0) >> 3) & 0x0f;
const questionCount = (m: Uint8Array) => ((m[4] ?? 0) << 8) | (m[5] ?? 0);

/**
 * Where the first question ends (after QTYPE and QCLASS), or -1. Compression
 * pointers are refused: the question is the first name in a message, so
 * there is nothing earlier a pointer could legitimately refer to.
 */
function questionEnd(m: Uint8Array): { nameEnd: number; end: number } | null {
  let at = HEADER;
  for (;;) {
    const len = m[at];
    if (len === undefined || (len & 0xc0) !== 0) return null;
    at += 1 + len;
    if (at - HEADER > MAX_NAME) return null;
    if (len === 0) break;
  }
  const end = at + 4;
  return end <= m.length ? { nameEnd: at, end } : null;
}

/**
 * Throws unless `query` is something we are willing to send upstream: a
 * query (QR clear) with exactly one readable question (RFC 9619: QDCOUNT
 * is 1 for OPCODE QUERY; a message we cannot match an answer to is not one
 * we forward), within the size a stream can frame.
 */
export function checkQuery(query: Uint8Array): void {
  if (query.length < HEADER || query.length > MAX_MESSAGE) {
    throw new RangeError(`a DNS query is 12 to ${MAX_MESSAGE} octets, not ${query.length}`);
  }
  if (isResponse(query)) throw new RangeError('not a DNS query (QR is set)');
  if (questionCount(query) !== 1 || questionEnd(query) === null) {
    throw new RangeError('a DNS query carries exactly one well-formed question');
  }
}

/**
 * Why `response` is not an answer to `query` as sent (same id), or null when
 * it is. An answer to a different question (or none) is refused, so a
 * confused or hostile upstream cannot slip records for another name into
 * the cache.
 */
export function responseMismatch(query: Uint8Array, response: Uint8Array): string | null {
  if (response.length < HEADER) return 'answer shorter than a DNS header';
  if (response.length > MAX_MESSAGE) return 'answer larger than 65535 octets';
  if (!isResponse(response)) return 'answer is not a DNS response (QR clear)';
  if (messageId(response) !== messageId(query)) return 'answer carries another message id';
  if (opcodeOf(response) !== opcodeOf(query)) return 'answer carries another opcode';
  if (questionCount(response) !== 1) return 'answer does not repeat the question';
  const asked = questionEnd(query);
  const got = questionEnd(response);
  if (asked === null || got === null || asked.end !== got.end) {
    return 'answer is for another question';
  }
  // Names compare case-insensitively (RFC 4343); length octets are < 64 so
  // folding A–Z never touches them. QTYPE and QCLASS compare exactly.
  for (let i = HEADER; i < asked.end; i++) {
    let a = query[i] ?? 0;
    let b = response[i] ?? 0;
    if (i < asked.nameEnd) {
      if (a >= 0x41 && a <= 0x5a) a |= 0x20;
      if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    }
    if (a !== b) return 'answer is for another question';
  }
  return null;
}
