import { type DnsServer, type QueryLogEntry, startDnsServer } from '@bulwark/dns';
import type { FastifyBaseLogger } from 'fastify';
import type { Registry } from 'prom-client';
import type { DnsConfig } from '../config/dns.ts';
import type { EventBus } from '../realtime/bus.ts';
import type { DnsDirectoryService } from './service.ts';

/**
 * The resolver inside `bulwark start`: started with the listeners whether
 * sealed or not (the office keeps resolving with the configured defaults),
 * given the directory's zones, groups and clients once unsealed, refreshed
 * on every change here and, through the event bus, on every other node.
 */
export interface DnsRuntime {
  server: DnsServer;
  /** After a change committed on this node: rebuild, and tell the other nodes. */
  changed(): Promise<void>;
  /** At unseal: load the directory. */
  unsealed(): Promise<void>;
  /** At seal: forget every org's zones and clients (decrypted data leaves memory). */
  sealed(): void;
  close(): Promise<void>;
}

export async function startDnsRuntime(opts: {
  config: DnsConfig;
  tls: { key: string; cert: string };
  registry: Registry;
  logger: FastifyBaseLogger;
  bus: EventBus;
  /** `bulwark.<installation>.dns.changed`, null before init. */
  subject: () => string | null;
  directory: DnsDirectoryService;
  isUnsealed: () => boolean;
}): Promise<DnsRuntime> {
  const { config, logger } = opts;
  let pruning = false;
  const server = await startDnsServer({
    host: config.host,
    udpPort: config.udpPort,
    tcpPort: config.tcpPort,
    dotPort: config.dotPort,
    tls: opts.tls,
    upstreams: config.upstreams.map((u) => ({
      url: u.url,
      ...(u.serverName !== undefined ? { serverName: u.serverName } : {}),
      ...(u.caFile !== undefined ? { caFile: u.caFile } : {}),
      ...(u.spkiPins !== undefined ? { spkiPins: u.spkiPins } : {}),
    })),
    airGapped: config.airGapped,
    lists: config.lists.map((l) => ({
      id: l.id,
      source: l.source,
      format: l.format,
      category: l.category,
      refreshMinutes: l.refreshMinutes,
      ...(l.answer !== undefined ? { answer: l.answer } : {}),
      ...(l.caFile !== undefined ? { caFile: l.caFile } : {}),
    })),
    defaults: {
      allowedRanges: config.allowedClientRanges,
      policy: {
        id: 'default',
        orgId: null,
        blockCategories: config.defaultPolicy.blockCategories,
        rules: [],
        answer: config.defaultPolicy.answer,
        sinkhole: {
          ipv4: config.defaultPolicy.sinkholeIpv4 ?? null,
          ipv6: config.defaultPolicy.sinkholeIpv6 ?? null,
        },
        queryLog: config.defaultPolicy.queryLog,
      },
    },
    rebindingAllowed: config.rebindingAllowed,
    ...(config.rateLimitPerSecond > 0
      ? { rateLimit: { queriesPerSecond: config.rateLimitPerSecond } }
      : {}),
    cacheEntries: config.cacheEntries,
    registry: opts.registry,
    logger,
    // The log is written only while unsealed (its columns are encrypted); sealed, entries drop.
    queryLogSink: async (entries: QueryLogEntry[]) => {
      if (!opts.isUnsealed()) return;
      await opts.directory.recordQueries(entries);
    },
  });

  const refresh = async () => {
    if (!opts.isUnsealed()) return;
    try {
      server.setSnapshot(await opts.directory.snapshot());
    } catch (err) {
      logger.error(
        { err },
        'the DNS directory could not be loaded; the previous one keeps serving',
      );
    }
  };
  let unsubscribe: (() => void) | null = null;
  const subscribe = () => {
    const subject = opts.subject();
    if (subject === null || unsubscribe) return;
    unsubscribe = opts.bus.subscribe(subject, () => {
      void refresh();
    });
  };
  subscribe();
  // A safety net under the events: anything a lost event or a direct database change
  // left behind is picked up within minutes.
  const refreshTimer = setInterval(() => {
    void refresh();
  }, 5 * 60_000);
  refreshTimer.unref();
  const pruneTimer = setInterval(() => {
    if (!opts.isUnsealed() || pruning) return;
    pruning = true;
    opts.directory
      .pruneQueryLog(new Date())
      .catch((err: unknown) => logger.error({ err }, 'the DNS query log retention sweep failed'))
      .finally(() => {
        pruning = false;
      });
  }, 3600_000);
  pruneTimer.unref();
  logger.info(
    {
      udp: server.ports.udp,
      tcp: server.ports.tcp,
      dot: server.ports.dot,
      airGapped: config.airGapped,
    },
    'DNS resolver listening',
  );

  return {
    server,
    async changed() {
      await refresh();
      const subject = opts.subject();
      if (subject !== null) await opts.bus.publish(subject, { type: 'dns.changed' });
    },
    async unsealed() {
      subscribe();
      await refresh();
    },
    sealed() {
      server.clearSnapshot();
    },
    async close() {
      clearInterval(pruneTimer);
      clearInterval(refreshTimer);
      unsubscribe?.();
      await server.close();
    },
  };
}
