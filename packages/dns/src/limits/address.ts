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
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i] as string;
    // No leading zeros: `010` is octal to some parsers and decimal to others.
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return null;
    const value = Number(part);
    if (value > 255) return null;
    out[i] = value;
  }
  return out;
}

function parseIpv6(input: string): Uint8Array | null {
  const zone = input.indexOf('%');
  const text = zone < 0 ? input : input.slice(0, zone);
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const compressed = halves.length === 2;
  // An embedded IPv4 address may only end the address (RFC 4291 §2.2).
  const head = parseGroups(halves[0] as string, !compressed);
  const tail = compressed ? parseGroups(halves[1] as string, true) : [];
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (compressed ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

/** `2001:db8:1` → its 16-bit groups ('' → none); a dotted quad may end it when allowed. */
function parseGroups(text: string, ipv4Last: boolean): number[] | null {
  if (text === '') return [];
  const words = text.split(':');
  const groups: number[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    if (ipv4Last && i === words.length - 1 && word.includes('.')) {
      const v4 = parseIpv4(word);
      if (v4 === null) return null;
      groups.push(((v4[0] as number) << 8) | (v4[1] as number));
      groups.push(((v4[2] as number) << 8) | (v4[3] as number));
    } else if (/^[0-9a-fA-F]{1,4}$/.test(word)) {
      groups.push(Number.parseInt(word, 16));
    } else {
      return null;
    }
  }
  return groups;
}

function isMapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}
