/**
 * IP addresses as bytes, for the rate limiter's per-network keys, exemption
 * lists and the query log's anonymisation. Strict: what `net.Socket`
 * reports (and what an admin types in a CIDR) parses; anything else is null.
 */

/**
 * 4 bytes for IPv4 and for IPv4-mapped IPv6 (`::ffff:192.0.2.1`, which is
 * how a dual-stack socket reports IPv4 clients), 16 for other IPv6; a zone
 * (`%eth0`) is ignored. Null when not an address.
 */
export function parseAddress(address: string): Uint8Array | null {
  if (!address.includes(':')) return parseIpv4(address);
  const bytes = parseIpv6(address);
  if (bytes === null) return null;
  return isMapped(bytes) ? bytes.slice(12) : bytes;
}

/** `192.0.2.0/24`, `2001:db8::/32` or a bare address (a host route); host bits are cleared. */
export function parseCidr(cidr: string): { bytes: Uint8Array; prefix: number } | null {
  const slash = cidr.indexOf('/');
  const bytes = parseAddress(slash < 0 ? cidr : cidr.slice(0, slash));
  if (bytes === null) return null;
  const bits = bytes.length * 8;
  let prefix = bits;
  if (slash >= 0) {
    const text = cidr.slice(slash + 1);
    if (!/^\d{1,3}$/.test(text)) return null;
    prefix = Number(text);
    // An IPv4-mapped network (`::ffff:10.0.0.0/104`) becomes its IPv4 prefix.
    if (bits === 32 && cidr.includes(':')) prefix -= 96;
    if (prefix < 0 || prefix > bits) return null;
  }
  return { bytes: maskBytes(bytes, prefix), prefix };
}

/** A copy with every bit after the first `prefix` cleared. */
export function maskBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = bytes.slice();
  for (let i = 0; i < out.length; i++) {
    const keep = Math.min(8, Math.max(0, prefix - i * 8));
    out[i] = (out[i] as number) & ((0xff00 >> keep) & 0xff);
  }
  return out;
}

export function inNetwork(
  bytes: Uint8Array,
  network: { bytes: Uint8Array; prefix: number },
): boolean {
  if (bytes.length !== network.bytes.length) return false;
  const masked = maskBytes(bytes, network.prefix);
  for (let i = 0; i < masked.length; i++) if (masked[i] !== network.bytes[i]) return false;
  return true;
}

/** Dotted quad for 4 bytes; RFC 5952 text for 16 (lower case, longest zero run as `::`). */
export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2)
    groups.push(((bytes[i] as number) << 8) | (bytes[i + 1] as number));
  // The longest run of two or more zero groups, the first if tied (RFC 5952 §4.2).
  let bestAt = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestAt = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestAt < 0) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLength).join(':')}`;
}

function parseIpv4(text: string): Uint8Array | null {
  const value = ipv4ToNumber(text);
  if (value < 0) return null;
  return new Uint8Array([value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff]);
}

/**
 * A dotted quad (`text` from `from` to `to`) as an unsigned 32-bit number, or -1.
 * Allocation-free, for the rate limiter's per-query path. Leading zeros are
 * refused: `010` is octal to some parsers and decimal to others.
 */
export function ipv4ToNumber(text: string, from = 0, to = text.length): number {
  let value = 0;
  let part = -1;
  let dots = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      if (part < 0 || ++dots > 3) return -1;
      value = value * 256 + part;
      part = -1;
    } else if (c >= 0x30 && c <= 0x39 && part !== 0) {
      part = part < 0 ? c - 0x30 : part * 10 + c - 0x30;
      if (part > 255) return -1;
    } else {
      return -1;
    }
  }
  return part < 0 || dots !== 3 ? -1 : value * 256 + part;
}

/** RFC 4291 §2.2 text, a hand-rolled scanner (a split-and-regex version cost ~6 µs per query). */
function parseIpv6(input: string): Uint8Array | null {
  const zone = input.indexOf('%');
  const end = zone < 0 ? input.length : zone;
  const groups: number[] = [];
  /** Where `::` sits among the groups, -1 when absent. */
  let gap = -1;
  let i = 0;
  if (input.startsWith('::')) {
    gap = 0;
    i = 2;
  }
  while (i < end) {
    let value = 0;
    let j = i;
    for (; j < end && j - i <= 4; j++) {
      const digit = hexDigit(input.charCodeAt(j));
      if (digit < 0) break;
      value = value * 16 + digit;
    }
    if (j < end && input.charCodeAt(j) === 0x2e) {
      // An embedded IPv4 address, which may only end the address.
      const v4 = ipv4ToNumber(input, i, end);
      if (v4 < 0) return null;
      groups.push(v4 >>> 16, v4 & 0xffff);
      break;
    }
    if (j === i || j - i > 4) return null;
    groups.push(value);
    if (j === end) break;
    if (input.charCodeAt(j) !== 0x3a) return null;
    if (input.charCodeAt(j + 1) === 0x3a) {
      if (gap >= 0) return null;
      gap = groups.length;
      i = j + 2;
    } else {
      i = j + 1;
      if (i === end) return null; // a trailing single colon
    }
  }
  if (gap < 0 ? groups.length !== 8 : groups.length > 7) return null;
  const out = new Uint8Array(16);
  for (let k = 0; k < groups.length; k++) {
    const at = gap >= 0 && k >= gap ? 8 - (groups.length - k) : k;
    const group = groups[k] as number;
    out[at * 2] = group >> 8;
    out[at * 2 + 1] = group & 0xff;
  }
  return out;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

function isMapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}
