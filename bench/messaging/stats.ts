/** Small helpers shared by the messaging benchmarks. */
import { availableParallelism, cpus, totalmem } from 'node:os';

/** Nearest-rank quantiles, rounded to 0.1. */
export function quantiles(values: readonly number[]) {
  const s = Float64Array.from(values).sort();
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
  const r = (x: number | undefined) => (x === undefined ? null : Number(x.toFixed(1)));
  let sum = 0;
  for (const v of s) sum += v;
  return {
    n: s.length,
    min: r(s[0]),
    p50: r(at(0.5)),
    p90: r(at(0.9)),
    p99: r(at(0.99)),
    max: r(s.at(-1)),
    mean: r(sum / (s.length || 1)),
  };
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1
    ? (s[mid] as number)
    : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** One JSON line per measurement on stdout. */
export function emit(o: Record<string, unknown>): void {
  console.log(JSON.stringify(o));
}

export function machine() {
  return {
    nproc: availableParallelism(),
    memGiB: Math.round(totalmem() / 2 ** 30),
    cpu: cpus()[0]?.model,
    node: process.version,
  };
}

export const mib = (bytes: number) => Number((bytes / 2 ** 20).toFixed(1));
export const round = (x: number, digits = 1) => Number(x.toFixed(digits));
