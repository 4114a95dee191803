import { ClientRateLimiter } from '../limits/rate-limit.ts';
function bench(name: string, n: number, f: (i: number) => void) {
  for (let i = 0; i < 100000; i++) f(i);
  const t = performance.now(); for (let i = 0; i < n; i++) f(i);
  console.log(name, (((performance.now() - t) * 1e6) / n).toFixed(0), 'ns/op');
}
const addrs6 = Array.from({ length: 65536 }, (_, i) => `2001:db8:${i.toString(16)}::1`);
const rl = new ClientRateLimiter({ queriesPerSecond: 1e9 });
bench('rate v6 65k', 2e6, (i) => rl.check(addrs6[i & 65535]!, 'udp'));
bench('u8 alloc', 2e6, () => new Uint8Array(16));
bench('array alloc', 2e6, () => new Array(16).fill(0));
