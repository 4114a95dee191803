import { normalizeName } from '../names.ts';

/**
 * Reading the fields of a record written the way zone files write it. Each
 * reader returns null when the text is not what it should be; the caller
 * knows which field it was reading and says so in the error.
 */

/**
 * Splits record data into fields at whitespace; double quotes group a field
 * that holds spaces (CAA `"value"`, SVCB `alpn="h2,h3"`) and are dropped.
 * Backslash escapes (RFC 1035 §5.1 `\"`, `\065`) are refused rather than half
 * understood: none of the values we accept needs one.
 */
export function tokenize(data: string): { tokens: string[] } | { error: string } {
  const tokens: string[] = [];
  let current = '';
  let inToken = false;
  let quoted = false;
  for (const ch of data) {
    if (ch === '\\') return { error: 'backslash escapes are not supported' };
    if (ch === '"') {
      quoted = !quoted;
      inToken = true;
    } else if (!quoted && /\s/.test(ch)) {
      if (inToken) tokens.push(current);
      current = '';
      inToken = false;
    } else {
      current += ch;
      inToken = true;
    }
  }
  if (quoted) return { error: 'a double quote is not closed' };
  if (inToken) tokens.push(current);
  return { tokens };
}

/** A decimal number from 0 to max; leading zeros are fine (`010` is 10). */
export function parseUint(text: string, max: number): number | null {
  if (!/^\d{1,10}$/.test(text)) return null;
  const n = Number(text);
  return n <= max ? n : null;
}

/**
 * A domain name in record data (a CNAME, MX or SRV target): normalised, or
 * `.` (the root) where the type gives the root a meaning (null MX, RFC 7505;
 * "no service" SRV, RFC 2782; SVCB "the owner itself", RFC 9460 §2.5).
 */
export function parseTarget(text: string, rootAllowed: boolean): string | null {
  if (text === '.') return rootAllowed ? '.' : null;
  return normalizeName(text);
}

/** A name in DNS wire form, uncompressed (RFC 9460 §2.2 forbids compressing SVCB targets). */
export function nameToWire(name: string): Buffer {
  if (name === '.') return Buffer.from([0]);
  const parts: Buffer[] = [];
  for (const label of name.split('.')) {
    const bytes = Buffer.from(label, 'ascii');
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/**
 * A dotted-quad IPv4 address, four octets. Leading zeros are refused:
 * `010.0.0.1` is 8.0.0.1 to some parsers and 10.0.0.1 to others.
 */
export function parseIPv4(text: string): number[] | null {
  if (
    !/^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.test(text)
  ) {
    return null;
  }
  return text.split('.').map(Number);
}

/**
 * An IPv6 address: its canonical text (RFC 5952: lower case, the longest
 * zero run as `::`, embedded IPv4 written in hex) and its sixteen octets.
 * The WHATWG URL parser does the canonical form and refuses zone ids
 * (`fe80::1%eth0`), which have no meaning in DNS data.
 */
export function parseIPv6(text: string): { text: string; bytes: Buffer } | null {
  if (!text.includes(':') || !/^[0-9a-fA-F:.]+$/.test(text)) return null;
  let canonical: string;
  try {
    canonical = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
  const [head = '', tail] = canonical.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(zeros).fill('0'), ...tailGroups];
  const bytes = Buffer.alloc(16);
  groups.forEach((group, i) => {
    bytes.writeUInt16BE(Number.parseInt(group, 16), i * 2);
  });
  return { text: canonical, bytes };
}
