import { randomBytes } from 'node:crypto';
import {
  accessSync,
  closeSync,
  constants,
  fsyncSync,
  mkdirSync,
  openSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { DnsServer } from '@bulwark/dns';
import { Ed25519NoteSigner } from '@bulwark/ledger';
import type { FastifyBaseLogger } from 'fastify';
import { Registry } from 'prom-client';
import packageJson from '../package.json' with { type: 'json' };
import { AuditLedger } from './audit/ledger/ledger.ts';
import { sweepRetention } from './audit/retention.ts';
import { registerAuditRoutes } from './audit/routes.ts';
import {
  checkSiemSinkFiles,
  type SiemForwarderStatus,
  startSiemForwarders,
} from './audit/siem/forwarder.ts';
import type { BulwarkConfig } from './config/index.ts';
import { OrgStore } from './directory/orgs.ts';
import { ProjectStore } from './directory/projects.ts';
import { registerGroupRoutes } from './directory/routes/group-routes.ts';
import { registerLinkRoutes } from './directory/routes/link-routes.ts';
import { registerOrgRoutes } from './directory/routes/org-routes.ts';
import { registerProjectRoutes } from './directory/routes/project-routes.ts';
import { registerDohRoutes } from './dns/doh-route.ts';
import { registerDnsRoutes } from './dns/routes.ts';
import { type DnsRuntime, startDnsRuntime } from './dns/runtime.ts';
import { DnsDirectoryService } from './dns/service.ts';
import { BulwarkError } from './errors.ts';
import { type App, buildApp } from './http/app.ts';
import { registerPageRoutes } from './http/pages/routes.ts';
import { registerWebAppRoutes } from './http/web-app.ts';
import { registerAdminUserRoutes } from './identity/admin/routes.ts';
import {
  buildIdentityContext,
  type IdentityContext,
  type RelyingParty,
} from './identity/context.ts';
import { registerCredentialRoutes } from './identity/credential-routes.ts';
import { type ResolvedLdapConnector, resolveLdapConnector } from './identity/ldap/config.ts';
import {
  buildLdapServices,
  registerLdapRoutes,
  startLdapSyncSchedule,
} from './identity/ldap/routes.ts';
import type { LdapLoginService } from './identity/ldap/service.ts';
import { LoginThrottle } from './identity/login-throttle.ts';
import { registerLoginMethodsRoute } from './identity/methods-route.ts';
import { registerOidcRoutes } from './identity/oidc/routes.ts';
import { OidcService } from './identity/oidc/service.ts';
import { registerPasskeyRoutes } from './identity/passkeys/routes.ts';
import { issueSetupLink } from './identity/passkeys/setup-link.ts';
import { type Clock, systemClock } from './identity/secret-hasher.ts';
import { registerSessionRoutes } from './identity/sessions/routes.ts';
import { defaultSessionPolicy } from './identity/sessions/service.ts';
import { smsProviderFromConfig } from './identity/sms/from-config.ts';
import type { SmsProvider } from './identity/sms/provider.ts';
import { HybridClock } from './kanban/model/hlc.ts';
import { registerKanbanRoutes } from './kanban/routes.ts';
import { openAesGcm, sealAesGcm } from './keys/dangerous/aes-gcm.ts';
import { KeyringStore } from './keys/keyring-store.ts';
import type { Argon2idParams } from './keys/providers/passphrase.ts';
import type { RootKey } from './keys/root-key.ts';
import { type SealedResources, SealService } from './keys/service.ts';
import { mlsInspector } from './messaging/mls.ts';
import { pruneMessaging } from './messaging/retention.ts';
import { registerMessagingRoutes } from './messaging/routes.ts';
import { MessagingService } from './messaging/service.ts';
import { DeviceHub } from './messaging/socket.ts';
import { checkStanding } from './policy/standing.ts';
import { createEventBus, type EventBus } from './realtime/bus.ts';
import { RealtimeHub } from './realtime/hub.ts';
import { realtimeAccess, registerRealtimeRoutes } from './realtime/routes.ts';
import { checkDatabaseFileShape } from './storage/sqlite.ts';
import {
  createStorage,
  discardFreshStorage,
  openStorage,
  Storage,
  type StorageConfig,
} from './storage/storage.ts';
import {
  installLeafCertificate,
  issueLeafCertificate,
  prepareTls,
  readSealedCaKey,
  tlsFiles,
  writeSealedCaKey,
} from './tls/index.ts';
import { replaceFileAtomic } from './util/files.ts';

export const version: string = packageJson.version;

export const dataFiles = {
  keyring: 'keyring.json',
  database: 'bulwark.db',
  operatorToken: 'operator.token',
  tlsDir: 'tls',
} as const;

export interface ServerHandle {
  app: App;
  seal: SealService;
  /** The open storage while unsealed. */
  storage(): Storage;
  /** The identity services while unsealed. */
  identity(): IdentityContext;
  /** The audit ledger while unsealed. */
  ledger(): AuditLedger;
  /** Each SIEM sink's stream (audit.siem) while unsealed; empty when sealed. */
  siem(): SiemForwarderStatus[];
  /** Live updates: domain code publishes here after its transaction commits. */
  realtime(): Realtime;
  /** The DNS resolver when `dns.enabled` (its ports, statistics, status). */
  dns(): DnsServer | null;
  url: string;
  close(): Promise<void>;
}

/** Publishing live updates (docs/api.md, "Live updates"). */
export interface Realtime {
  /**
   * Tells every node's subscribers of the project; never rejects. The event
   * holds ids and the names of what changed, never content or secrets.
   * `accessChanged`: the change may have taken someone's access away, so
   * every subscriber is re-authorized before it is delivered.
   */
  publishProject(
    projectId: string,
    event: object,
    opts?: { accessChanged?: boolean },
  ): Promise<void>;
}

/** Thrown for start-up faults an operator must fix; main prints it and exits 1. */
export class StartupError extends Error {
  override name = 'StartupError';
}

export interface StartOptions {
  logger: FastifyBaseLogger;
  /** Tests move time; the server never reads the wall clock elsewhere for auth decisions. */
  clock?: Clock;
  /** Lower Argon2id cost for tests only; production always uses the default. */
  argon2id?: Argon2idParams;
}

/**
 * The composition root: reads nothing global, builds every part from the
 * config and wires them by hand. Comes up sealed (or uninitialised).
 */
export async function startServer(
  config: BulwarkConfig,
  opts: StartOptions,
): Promise<ServerHandle> {
  const dataDir = config.dataDir;
  ensureWritableDataDir(dataDir);

  const storageConfig: StorageConfig = config.database.url
    ? { backend: 'postgres', url: config.database.url, schema: config.database.schema }
    : { backend: 'sqlite', path: join(dataDir, dataFiles.database) };

  const keyring = new KeyringStore(join(dataDir, dataFiles.keyring));
  const initialized = keyring.exists();
  try {
    if (storageConfig.backend === 'sqlite') checkDatabaseFileShape(storageConfig.path);
  } catch (err) {
    throw new StartupError((err as Error).message);
  }

  const tlsDir = join(dataDir, dataFiles.tlsDir);
  const tls = await prepareTls({
    dir: tlsDir,
    serverNames: config.tls.serverNames,
    ...(config.tls.certFile ? { certFile: config.tls.certFile } : {}),
    ...(config.tls.keyFile ? { keyFile: config.tls.keyFile } : {}),
    regenerateUnsealed: !initialized,
  });

  let storage: Storage | null = null;
  let identity: IdentityContext | null = null;
  const clock = opts.clock ?? systemClock;
  const relyingParty = relyingPartyFor(config, () => app.server.address());
  let smsProvider: SmsProvider | null;
  try {
    smsProvider = smsProviderFromConfig(config.auth.sms, (msg) => opts.logger.warn(msg));
  } catch (err) {
    throw new StartupError((err as Error).message);
  }
  if (smsProvider) {
    opts.logger.warn(
      'SMS codes are enabled: they are not a secure factor (SIM swap, interception).',
    );
  }
  let ldapConnectors: ResolvedLdapConnector[];
  try {
    ldapConnectors = config.auth.ldap.connectors.map((c) => resolveLdapConnector(c));
  } catch (err) {
    throw new StartupError((err as Error).message);
  }
  let ldapServices: Map<string, LdapLoginService> | null = null;
  for (const c of config.auth.oidc) {
    for (const file of [c.clientSecretFile, c.caFile]) {
      if (file === undefined) continue;
      try {
        accessSync(file, constants.R_OK);
      } catch (err) {
        throw new StartupError(
          `auth.oidc ${c.id}: cannot read ${file} (${(err as Error).message})`,
        );
      }
    }
  }
  let oidcService: OidcService | null = null;
  let ledger: AuditLedger | null = null;

  // --- SIEM streaming (docs/audit.md, "Streaming to a SIEM") ----------------
  // One forwarder per sink, reading the ledger while unsealed; it never takes
  // part in an append. Files are checked now, so a typo stops the start.
  for (const sink of config.audit.siem) {
    try {
      checkSiemSinkFiles(sink);
    } catch (err) {
      throw new StartupError((err as Error).message);
    }
  }
  let siem: ReturnType<typeof startSiemForwarders> | null = null;
  const startSiem = (s: Storage) => {
    if (config.audit.siem.length === 0) return;
    siem = startSiemForwarders({ sinks: config.audit.siem, db: s.db, logger: opts.logger });
  };
  /** Before storage closes: sends what is pending (the seal's entry) for a moment, then stops. */
  const stopSiem = async () => {
    const running = siem;
    siem = null;
    await running?.stop();
  };
  // ---------------------------------------------------------------------------

  const openIdentity = (root: RootKey, s: Storage) => {
    identity = buildIdentityContext({
      storage: s,
      root,
      clock,
      relyingParty,
      smsProvider,
      passkeyPolicy: config.auth.passkeys,
    });
    const seed = root.derive('ledgerSigning');
    const signer = new Ed25519NoteSigner(`bulwark/${root.installationId}`, seed.bytes());
    seed.wipe();
    const hasher = identity.hasher;
    ledger = new AuditLedger({
      storage: s,
      signer,
      clock,
      hashSource: (source) => hasher.hash('audit-source', source),
    });
    oidcService = new OidcService({
      connectors: config.auth.oidc,
      storage: s,
      users: identity.users,
      challenges: identity.challenges,
      clock,
      publicOrigin: () => relyingParty.origins[0] ?? `https://${relyingParty.id}`,
    });
    ldapServices = buildLdapServices({
      storage: s,
      identity,
      connectors: ldapConnectors,
      logger: opts.logger,
    });
    startSiem(s);
  };
  const closeIdentity = () => {
    identity?.wipe();
    identity = null;
    ldapServices = null;
    oidcService = null;
    ledger = null;
  };
  const systemEvent = (action: string) => ({
    action,
    actor: { kind: 'operator' as const, channel: 'api' as const },
    target: { type: 'installation', id: seal.status().installationId },
  });
  /** The installation's first org, made with its ledger entry (users from before orgs join it). */
  const ensureDefaultOrg = async (s: Storage) => {
    await s.db.transaction().execute(async (trx) => {
      const tx = new Storage(trx, s.backend, s.fields);
      const orgs = new OrgStore(tx);
      if ((await orgs.list()).length > 0) {
        await orgs.ensureDefault(clock.now());
        return;
      }
      const org = await orgs.ensureDefault(clock.now());
      await currentLedger().append(trx, {
        action: 'org.create',
        actor: { kind: 'system', channel: 'system' },
        target: { type: 'org', id: org.id },
        after: org,
        scope: { orgId: org.id },
      });
    });
  };
  /** The CA key this init sealed, so an aborted init can take it back. */
  let sealedCaKeyThisInit = false;
  const resources: SealedResources = {
    async initialize(root: RootKey) {
      storage = await createStorage(storageConfig, root);
      openIdentity(root, storage);
      if (tls.unsealedCaKeyPem) {
        const caKey = root.derive('tlsCaKey');
        try {
          await writeSealedCaKey(tlsDir, tls.unsealedCaKeyPem, (plain) =>
            sealAesGcm(caKey.bytes(), plain, caKeyAad(root)),
          );
          sealedCaKeyThisInit = true;
        } catch (err) {
          await resources.abortInitialize();
          throw err;
        } finally {
          caKey.wipe();
        }
      }
    },
    async abortInitialize() {
      const created = storage;
      storage = null;
      await stopSiem();
      closeIdentity();
      if (!created) return;
      await created.close();
      await discardFreshStorage(storageConfig);
      // Only a CA key sealed by this init; the pending key is still in memory for the next try.
      if (sealedCaKeyThisInit) rmSync(join(tlsDir, tlsFiles.sealedCaKey), { force: true });
      sealedCaKeyThisInit = false;
    },
    async open(root: RootKey) {
      storage = await openStorage(storageConfig, root);
      openIdentity(root, storage);
      await currentLedger().record(systemEvent('sys.unseal'));
      await ensureDefaultOrg(storage);
      await renewLeafIfNeeded(root);
      await dnsRuntime?.unsealed();
    },
    async close() {
      try {
        // Seal is recorded, and the head signed, while the keys are still here.
        await ledger?.record(systemEvent('sys.seal'));
        await ledger?.signHead();
      } catch (err) {
        opts.logger.error({ err }, 'could not record the seal in the audit ledger');
      }
      await stopSiem();
      hub.closeAll('sealed');
      await deviceHub.closeAll();
      dnsRuntime?.sealed();
      closeIdentity();
      const s = storage;
      storage = null;
      await s?.close();
    },
  };

  const seal = new SealService({
    keyring,
    resources,
    storage: storageConfig.backend,
    version,
    writeOperatorToken: (token) => {
      const path = join(dataDir, dataFiles.operatorToken);
      replaceFileAtomic(path, `${token}\n`, 0o600);
      return path;
    },
    ...(opts.argon2id ? { argon2id: opts.argon2id } : {}),
    log: (msg, fields) => opts.logger.info(fields ?? {}, msg),
  });

  /**
   * The CA key is sealed, so the leaf can only be renewed, or reissued for
   * newly configured names, once unsealed. A failure here is logged, never
   * fatal: the current certificate keeps serving.
   */
  async function renewLeafIfNeeded(root: RootKey): Promise<void> {
    const material = tls.material;
    const renewBefore = Date.now() + 30 * 24 * 3600 * 1000;
    const due = material.notAfter.getTime() < renewBefore || material.missingNames.length > 0;
    if (material.source !== 'generated' || !material.ca || !due) return;
    try {
      const caKeyPem = await readSealedCaKey(tlsDir, caKeyDecryptor(root));
      const leaf = await issueLeafCertificate({
        caCertPem: material.ca,
        caKeyPem,
        serverNames: config.tls.serverNames,
      });
      await installLeafCertificate(tlsDir, leaf, material.ca);
      const cert = `${leaf.certPem.trim()}\n${material.ca.trim()}\n`;
      app.server.setSecureContext({
        key: leaf.keyPem,
        cert,
        minVersion: 'TLSv1.3',
        maxVersion: 'TLSv1.3',
      });
      dnsRuntime?.server.setTls({ key: leaf.keyPem, cert });
      tls.material = {
        ...material,
        cert,
        key: leaf.keyPem,
        notAfter: leaf.notAfter,
        missingNames: [],
      };
      opts.logger.info(
        { notAfter: leaf.notAfter, names: config.tls.serverNames },
        'server certificate renewed',
      );
    } catch (err) {
      opts.logger.error(
        { err },
        'could not renew the server certificate; the current one stays in use',
      );
    }
  }

  if (tls.material.missingNames.length > 0) {
    opts.logger.warn(
      { missing: tls.material.missingNames },
      'the server certificate does not cover every configured name; it is reissued at unseal',
    );
  }

  const throttle = new LoginThrottle({ now: () => clock.now().getTime() });
  const currentLedger = (): AuditLedger => {
    if (!ledger) throw new BulwarkError('sealed');
    return ledger;
  };
  const currentIdentity = (): IdentityContext => {
    if (!identity) throw new BulwarkError('sealed');
    return identity;
  };

  // --- Live updates (docs/api.md, "Live updates") -----------------------------
  // One node: an in-process bus; several: NATS (events.nats). Connected now,
  // so a wrong address stops the start instead of quietly isolating this node.
  let bus: EventBus;
  try {
    bus = await createEventBus(config.events, opts.logger);
  } catch (err) {
    throw new StartupError(
      `Cannot connect to NATS at ${config.events.nats?.url} (events.nats.url or BULWARK_NATS_URL): ${(err as Error).message}. Remove the setting to run a single node without NATS.`,
    );
  }
  const hub = new RealtimeHub({
    bus,
    access: realtimeAccess(currentIdentity),
    // The installation id in every subject: installations sharing a NATS never meet.
    subject: (projectId) => {
      const installation = seal.status().installationId;
      return installation === null ? null : `bulwark.${installation}.project.${projectId}`;
    },
    logger: opts.logger,
  });
  const realtime: Realtime = {
    publishProject: (projectId, event, o) => hub.publishProject(projectId, event, o),
  };
  // ---------------------------------------------------------------------------

  // The server's own replica clock for board edits (stamps plain API calls, bounds clients').
  const kanbanClock = new HybridClock({ node: 'server', wallClock: () => clock.now().getTime() });
  // --- Messaging: the MLS Delivery Service (docs/messaging.md) -------------------
  const messaging = new MessagingService({
    identity: currentIdentity,
    ledger: currentLedger,
    bus,
    prefix: () => {
      const installation = seal.status().installationId;
      return installation === null ? null : `bulwark.${installation}.messaging`;
    },
    mls: mlsInspector,
    logger: opts.logger,
  });
  const deviceHub = new DeviceHub({
    messaging,
    access: {
      async session(token, source) {
        const id = currentIdentity();
        const actor = await id.sessions.authenticate(token, { touch: false });
        if (!actor) return null;
        await checkStanding(id, actor, 'messaging.connect', null, source);
        return actor;
      },
    },
    logger: opts.logger,
  });
  // --- DNS firewall (docs/dns.md) ---------------------------------------------
  let dnsRuntime: DnsRuntime | null = null;
  const dnsDirectory = new DnsDirectoryService({
    identity: currentIdentity,
    ledger: currentLedger,
    publicOrigin: () => relyingParty.origins[0] ?? `https://${relyingParty.id}`,
    onChange: async () => {
      await dnsRuntime?.changed();
    },
    allowedRanges: () => (config.dns.enabled ? config.dns.allowedClientRanges : null),
    rangeOrgs: () => config.dns.rangeOrgs,
  });
  const metricsRegistry = new Registry();
  // ---------------------------------------------------------------------------
  const directoryDeps = {
    identity: currentIdentity,
    ledger: currentLedger,
    policyChanged: async () => {
      await dnsRuntime?.changed();
    },
    publish: async (projectId: string, event: object, o?: { accessChanged?: boolean }) => {
      await realtime.publishProject(projectId, event, o);
      // Membership follows the directory: removed people's devices are proposed for removal now.
      const type = (event as { type?: unknown }).type;
      if (typeof type === 'string' && (type.startsWith('member.') || type === 'project.archived')) {
        await messaging.reconcileProject(projectId);
      }
    },
  };
  const app = await buildApp({
    tls: tls.material,
    seal,
    logger: opts.logger,
    metricsEnabled: config.metrics.enabled,
    metricsRegistry,
    version,
    allowRemoteInit: config.init.allowRemote,
    identity: currentIdentity,
    routes: [
      registerPasskeyRoutes(currentIdentity, currentLedger),
      registerPageRoutes,
      (a) => registerWebAppRoutes(a),
      (a) => registerLoginMethodsRoute(a, config),
      (a) => registerSessionRoutes(a, currentIdentity, currentLedger),
      (a) => registerAdminUserRoutes(a, currentIdentity, currentLedger),
      (a) =>
        registerAuditRoutes(a, currentLedger, {
          projectOrg: async (id) =>
            (await new ProjectStore(currentIdentity().storage).get(id))?.orgId ?? null,
        }),
      (a) => registerCredentialRoutes(a, currentIdentity, config, throttle, currentLedger),
      (a) =>
        registerLdapRoutes(a, {
          identity: currentIdentity,
          ldap: () => {
            if (!ldapServices) throw new BulwarkError('sealed');
            return ldapServices;
          },
          throttle,
          sessionMaxAgeSeconds: defaultSessionPolicy.absoluteHours * 3600,
          logger: opts.logger,
          audit: currentLedger,
        }),
      registerOrgRoutes(directoryDeps),
      registerProjectRoutes(directoryDeps),
      registerLinkRoutes(directoryDeps),
      registerGroupRoutes(directoryDeps),
      registerKanbanRoutes({ ...directoryDeps, clock: kanbanClock }),
      registerRealtimeRoutes(hub, () => relyingParty.origins),
      registerMessagingRoutes(
        { ...directoryDeps, messaging },
        deviceHub,
        () => relyingParty.origins,
      ),
      registerDnsRoutes({
        dns: dnsDirectory,
        stats: (orgId) => dnsRuntime?.server.stats(orgId) ?? null,
      }),
      registerDohRoutes(() => dnsRuntime?.server ?? null),
      (a) =>
        registerOidcRoutes(a, {
          identity: currentIdentity,
          oidc: () => {
            if (!oidcService) throw new BulwarkError('sealed');
            return oidcService;
          },
          audit: currentLedger,
        }),
    ],
    // The first admin registers through a one-time link printed with the init answer.
    afterInit: async () => {
      await currentLedger().record(systemEvent('sys.init'));
      await ensureDefaultOrg(currentIdentity().storage);
      await currentLedger().signHead();
      await dnsRuntime?.unsealed();
      return {
        ...(await issueSetupLink(currentIdentity(), currentLedger(), {
          kind: 'operator',
          channel: 'api',
        })),
      };
    },
    afterRekey: async () => {
      await currentLedger().record(systemEvent('sys.rekey'));
    },
  });

  try {
    await app.listen({ host: config.listen.host, port: config.listen.port });
  } catch (err) {
    await app.close().catch(() => {});
    await hub.close();
    await bus.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new StartupError(
        `Port ${config.listen.port} on ${config.listen.host} is already in use: is another Bulwark (or another program) running? Set listen.port or BULWARK_PORT to use another.`,
      );
    }
    if (code === 'EACCES') {
      throw new StartupError(
        `Not allowed to listen on ${config.listen.host}:${config.listen.port} (ports below 1024 need privileges).`,
      );
    }
    throw err;
  }
  if (config.dns.enabled) {
    try {
      dnsRuntime = await startDnsRuntime({
        config: config.dns,
        tls: { key: tls.material.key, cert: tls.material.cert },
        registry: metricsRegistry,
        logger: opts.logger,
        bus,
        subject: () => {
          const installation = seal.status().installationId;
          return installation === null ? null : `bulwark.${installation}.dns.changed`;
        },
        directory: dnsDirectory,
        isUnsealed: () => storage !== null,
      });
    } catch (err) {
      await app.close().catch(() => {});
      await hub.close();
      await bus.close();
      const e = err as NodeJS.ErrnoException;
      const where = `${config.dns.host} (udpPort ${config.dns.udpPort}, tcpPort ${config.dns.tcpPort}, dotPort ${config.dns.dotPort})`;
      if (e.code === 'EADDRINUSE') {
        throw new StartupError(
          `A DNS port on ${where} is already in use (another resolver?). Change dns.udpPort/tcpPort/dotPort, or set one to null to turn that listener off.`,
        );
      }
      if (e.code === 'EACCES') {
        throw new StartupError(
          `Not allowed to listen for DNS on ${where}: ports below 1024 need privileges (CAP_NET_BIND_SERVICE).`,
        );
      }
      throw new StartupError(`The DNS resolver could not start: ${e.message}`);
    }
    if (storage !== null) await dnsRuntime.unsealed();
  }
  // Signed tree heads on a schedule (and on demand, and at seal).
  const headTimer = setInterval(() => {
    ledger
      ?.signHead()
      .catch((err: unknown) => opts.logger.error({ err }, 'could not sign a tree head'));
  }, 5 * 60_000);
  headTimer.unref();
  // Retention (org and project policies): content of old entries is emptied, hashes stay.
  const retentionTimer = setInterval(() => {
    if (!ledger || !storage) return;
    sweepRetention({ storage, ledger, now: clock.now() }).catch((err: unknown) =>
      opts.logger.error({ err }, 'the audit retention sweep failed'),
    );
  }, 3600_000);
  retentionTimer.unref();
  // Removals the hooks did not announce (people disabled, policies tightened) are found by
  // a sweep; old ciphertext goes by the projects' retention.
  let sweeping = false;
  const messagingTimer = setInterval(() => {
    if (!storage || sweeping) return;
    sweeping = true;
    messaging
      .sweep()
      .catch((err: unknown) => opts.logger.error({ err }, 'the messaging sweep failed'))
      .finally(() => {
        sweeping = false;
      });
  }, 60_000);
  messagingTimer.unref();
  const messagingRetentionTimer = setInterval(() => {
    if (!storage) return;
    pruneMessaging(storage, clock.now()).catch((err: unknown) =>
      opts.logger.error({ err }, 'the messaging retention sweep failed'),
    );
  }, 3600_000);
  messagingRetentionTimer.unref();
  const ldapSchedule = startLdapSyncSchedule({
    connectors: ldapConnectors,
    services: () => ldapServices,
    logger: opts.logger,
    audit: currentLedger,
  });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.listen.port;
  const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;

  return {
    app,
    seal,
    storage() {
      if (!storage) throw new BulwarkError('sealed');
      return storage;
    },
    identity() {
      if (!identity) throw new BulwarkError('sealed');
      return identity;
    },
    ledger: currentLedger,
    siem: () => siem?.status() ?? [],
    realtime: () => realtime,
    dns: () => dnsRuntime?.server ?? null,
    url: `https://${host}:${port}`,
    async close() {
      ldapSchedule.stop();
      clearInterval(headTimer);
      clearInterval(retentionTimer);
      clearInterval(messagingTimer);
      clearInterval(messagingRetentionTimer);
      // Sockets first: they are not HTTP requests the app would wait for.
      await hub.close();
      await deviceHub.close();
      await dnsRuntime?.close();
      await app.close();
      if (seal.state === 'unsealed') await seal.seal();
      await bus.close();
    },
  };
}

/**
 * The WebAuthn relying party: the first configured server name is the RP ID;
 * every configured name at the listening port is an accepted origin.
 */
function relyingPartyFor(config: BulwarkConfig, address: () => unknown): RelyingParty {
  const names = config.tls.serverNames;
  const origins = () => {
    const a = address();
    const port = typeof a === 'object' && a && 'port' in a ? Number(a.port) : config.listen.port;
    const suffix = port === 443 ? '' : `:${port}`;
    return names.map((n) => `https://${n.includes(':') ? `[${n}]` : n}${suffix}`);
  };
  return {
    id: names[0] ?? 'localhost',
    name: 'Bulwark',
    get origins() {
      return origins();
    },
  };
}

function caKeyAad(root: RootKey): Buffer {
  return Buffer.from(`bulwark-tls-ca-key:v1:${root.installationId}`, 'utf8');
}

/** Decrypts the sealed CA key (for certificate renewal once unsealed). */
export function caKeyDecryptor(root: RootKey) {
  return (sealed: Uint8Array) => {
    const key = root.derive('tlsCaKey');
    try {
      return openAesGcm(key.bytes(), sealed, caKeyAad(root));
    } finally {
      key.wipe();
    }
  };
}

/**
 * Creates the data directory (0700) and proves it is writable by writing,
 * syncing and removing a probe file; permissions alone lie when running as root.
 */
function ensureWritableDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const probe = join(dir, `.write-probe-${randomBytes(4).toString('hex')}`);
    const fd = openSync(probe, 'wx', 0o600);
    try {
      writeSync(fd, 'probe');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
      rmSync(probe, { force: true });
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new StartupError(
      `The data directory ${dir} is not usable (${e.code ?? 'error'}: ${e.message}). Make sure it exists and the server's user can write to it.`,
    );
  }
}
