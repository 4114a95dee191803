import { domainToASCII } from 'node:url';

/**
 * Domain names as the firewall compares them: lower case, ASCII (IDNA
 * A-labels, so `bücher.example` and `xn--bcher-kva.example` are one name), no
 * trailing dot, each label 1–63 octets and the whole at most 253 (RFC 1035
 * §2.3.4). Underscores are allowed: service labels (`_dmarc`) are real names.
 */
export function normalizeName(input: string): string | null {
  let name = input.trim();
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name === '' || name.length > 253) return null;
  const ascii = /^[\x21-\x7e]+$/.test(name) ? name.toLowerCase() : domainToASCII(name);
  if (ascii === '' || ascii.length > 253) return null;
  // One pass over the whole name (block lists run this a million times).
  return validName.test(ascii) ? ascii : null;
}

/** Labels of 1–63 letters, digits, `_` and inner `-`, joined by single dots. */
const validName =
  /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/** `a.b.example.com` → `b.example.com`, …, `com`: the names a subtree rule may sit on. */
export function* parentsOf(name: string): Generator<string> {
  let at = name.indexOf('.');
  while (at >= 0) {
    yield name.slice(at + 1);
    at = name.indexOf('.', at + 1);
  }
}
