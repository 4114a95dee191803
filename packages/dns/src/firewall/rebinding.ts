import { BlockList, isIPv4 } from 'node:net';

/**
 * DNS-rebinding protection: a public name must not resolve to an address
 * inside the organisation (a web page from evil.example then talks to the
 * printer at 192.168.1.20 with the browser's same-origin blessing). Answers
 * for names outside the internal zones lose such records.
 */
const privateRanges: [string, number, 'ipv4' | 'ipv6'][] = [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
];

const privateAddresses = new BlockList();
for (const [network, prefix, family] of privateRanges) {
  privateAddresses.addSubnet(network, prefix, family);
}

export function isPrivateAddress(address: string): boolean {
  if (isIPv4(address)) return privateAddresses.check(address, 'ipv4');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return privateAddresses.check(mapped[1], 'ipv4');
  try {
    return privateAddresses.check(address, 'ipv6');
  } catch {
    return false;
  }
}
