import { type DnsCategory, dnsCategories, type QueryEvent } from '../types.ts';
import { SpaceSaving } from './top-k.ts';

/**
 * In-memory statistics for the dashboards: totals since start, an hourly
 * series for the last 24 hours, blocks per category and the most blocked
 * names per category, for the whole installation and for each organisation.
 * Memory is bounded: 24 hour buckets and at most `trackedPerCategory` names
 * per category per scope, however many distinct names are blocked.
 * Restarting the resolver starts from zero (`since` says when).
 */

export interface StatsCounts {
  queries: number;
  blocked: number;
  /** Answered from the cache, stale answers included. */
  cached: number;
  failed: number;
}

export interface StatsSnapshot {
  since: string;
  /** Oldest first, 24 entries ending with the current (partial) hour; empty hours are zeros. */
  last24h: ({ hour: string } & StatsCounts)[];
  totals: StatsCounts;
  blockedByCategory: Record<DnsCategory, number>;
  /** Counts since start; with a long tail they may overcount by the Space-Saving error. */
  topBlocked: Record<DnsCategory, { name: string; count: number }[]>;
}

export interface DnsStatsOptions {
  /** When counting began (ms since the epoch); default now. */
  startedAt?: number;
  /** Names tracked per category and scope for the top lists. Default 1000. */
  trackedPerCategory?: number;
}

const HOUR_MS = 3_600_000;
const HOURS = 24;

interface HourBucket extends StatsCounts {
  start: number;
}

class Scope {
  readonly totals = zeroCounts();
  readonly hours: (HourBucket | null)[] = new Array(HOURS).fill(null);
  readonly blockedByCategory = categoryRecord(() => 0);
  readonly top = new Map<DnsCategory, SpaceSaving>();
}

export class DnsStats {
  readonly #since: number;
  readonly #tracked: number;
  readonly #all = new Scope();
  readonly #orgs = new Map<string, Scope>();

  constructor(opts: DnsStatsOptions = {}) {
    this.#since = opts.startedAt ?? Date.now();
    this.#tracked = opts.trackedPerCategory ?? 1000;
  }

  record(event: QueryEvent): void {
    this.#add(this.#all, event);
    if (event.orgId !== null) {
      let scope = this.#orgs.get(event.orgId);
      if (scope === undefined) {
        scope = new Scope();
        this.#orgs.set(event.orgId, scope);
      }
      this.#add(scope, event);
    }
  }

  /** The installation's figures (orgId null) or one organisation's. */
  snapshot(opts: { orgId: string | null; top?: number; nowMs: number }): StatsSnapshot {
    const scope = opts.orgId === null ? this.#all : (this.#orgs.get(opts.orgId) ?? new Scope());
    const top = opts.top ?? 10;
    const currentHour = hourStart(opts.nowMs);
    const last24h: StatsSnapshot['last24h'] = [];
    for (let start = currentHour - (HOURS - 1) * HOUR_MS; start <= currentHour; start += HOUR_MS) {
      const bucket = scope.hours[slotOf(start)];
      const counts = bucket?.start === start ? bucket : zeroCounts();
      last24h.push({
        hour: new Date(start).toISOString(),
        queries: counts.queries,
        blocked: counts.blocked,
        cached: counts.cached,
        failed: counts.failed,
      });
    }
    return {
      since: new Date(this.#since).toISOString(),
      last24h,
      totals: { ...scope.totals },
      blockedByCategory: { ...scope.blockedByCategory },
      topBlocked: categoryRecord((category) =>
        (scope.top.get(category)?.top(top) ?? []).map(({ name, count }) => ({ name, count })),
      ),
    };
  }

  #add(scope: Scope, event: QueryEvent): void {
    count(scope.totals, event);
    const start = hourStart(event.at);
    const slot = slotOf(start);
    let bucket = scope.hours[slot] ?? null;
    if (bucket === null || bucket.start < start) {
      // The slot last held the same hour a day (or more) ago: start it afresh.
      bucket = { start, ...zeroCounts() };
      scope.hours[slot] = bucket;
    }
    // An event older than the slot's hour (a late arrival, a clock step) only counts in totals.
    if (bucket.start === start) count(bucket, event);

    if (event.outcome === 'blocked' && event.category !== null) {
      scope.blockedByCategory[event.category] += 1;
      let top = scope.top.get(event.category);
      if (top === undefined) {
        top = new SpaceSaving(this.#tracked);
        scope.top.set(event.category, top);
      }
      top.offer(event.name);
    }
  }
}

function count(counts: StatsCounts, event: QueryEvent): void {
  counts.queries += 1;
  if (event.outcome === 'blocked') counts.blocked += 1;
  else if (event.outcome === 'cached' || event.outcome === 'stale') counts.cached += 1;
  else if (event.outcome === 'failed') counts.failed += 1;
}

function hourStart(ms: number): number {
  return Math.floor(ms / HOUR_MS) * HOUR_MS;
}

function slotOf(hourStartMs: number): number {
  return (((hourStartMs / HOUR_MS) % HOURS) + HOURS) % HOURS;
}

function zeroCounts(): StatsCounts {
  return { queries: 0, blocked: 0, cached: 0, failed: 0 };
}

function categoryRecord<T>(make: (category: DnsCategory) => T): Record<DnsCategory, T> {
  return Object.fromEntries(dnsCategories.map((c) => [c, make(c)])) as Record<DnsCategory, T>;
}
