import type { SealState } from '@bulwark/protocol';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** One registry per server instance (no module singleton: tests run several servers). */
export function createMetrics(sealState: () => SealState, registry: Registry = new Registry()) {
  collectDefaultMetrics({ register: registry, prefix: 'bulwark_' });
  const requests = new Counter({
    name: 'bulwark_http_requests_total',
    help: 'HTTP requests answered, by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'bulwark_http_request_duration_seconds',
    help: 'HTTP request duration by route pattern',
    labelNames: ['route', 'method'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  new Gauge({
    name: 'bulwark_sealed',
    help: '1 while the server is sealed or uninitialised, 0 when unsealed',
    registers: [registry],
    collect() {
      this.set(sealState() === 'unsealed' ? 0 : 1);
    },
  });
  return { registry, requests, duration };
}

export type Metrics = ReturnType<typeof createMetrics>;
