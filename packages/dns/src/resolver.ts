import * as packet from 'dns-packet';
import { ResponseCache } from './cache/cache.ts';
import { type ClientContext, type ClientDefaults, ClientDirectory } from './clients.ts';
import { type Block, Firewall } from './firewall/firewall.ts';
import type { ListRegistry } from './firewall/lists.ts';
import type { ClientRateLimiter } from './limits/rate-limit.ts';
import type { DnsSnapshot, QueryEvent } from './types.ts';
import type { UpstreamPool } from './upstream/pool.ts';
import {
  cleanUpstreamAnswer,
  isPrivateReverse,
  questionBytes,
  rcodeName,
  reidentify,
  withClientFlags,
} from './wire/answers.ts';
import {
  type Answer,
  classicUdpBytes,
  decodeQuery,
  ednsUdpBytes,
  encodeAnswer,
  encodeBare,
  encodeHeaderOnly,
  finishResponse,
  type QueryFacts,
  type Rcode,
  typeName,
  upstreamQuery,
} from './wire/message.ts';

export type Transport = QueryEvent['protocol'];

/** Who sent a query and how (the listeners fill it in). */
export interface QueryOrigin {
  protocol: Transport;
  address: string;
  /** SHA-256 (hex) of the DoH URL token, when the URL carried one. */
  tokenHash?: string;
  /** SHA-256 (hex) of the DoT client certificate, when one was presented. */
  certFingerprint?: string;
}

export interface ResolverOptions {
  lists: ListRegistry;
  /** null: air-gapped, only internal zones answer. */
  upstreams: UpstreamPool | null;
  cache?: ResponseCache;
  rateLimiter?: ClientRateLimiter;
  defaults: ClientDefaults;
  /** Names (and their subtrees) allowed to resolve to private addresses, e.g. a VPN's. */
  rebindingAllowed?: string[];
  /** TTL of synthesised block answers: short, so lifting a block takes effect soon. */
  blockTtl?: number;
  /** Every answered query, for statistics, metrics and the query log. */
  onQuery?: (event: QueryEvent) => void;
  onMalformed?: (protocol: Transport) => void;
  onRateLimited?: (action: 'slip' | 'drop') => void;
  now?: () => number;
}

/** Cached answers whose CNAME targets are remembered for the cloaking check. */
const maxAliasedAnswers = 100_000;

/** Browsers check this name; NXDOMAIN tells them to keep using the network's resolver. */
const canaryName = 'use-application-dns.net';

/** RFC 8914 Extended DNS Error codes we send. */
const ede = {
  staleAnswer: 3,
  blocked: 15,
  censoredByPolicy: 16,
  filtered: 17,
  prohibited: 18,
  notReady: 14,
  networkError: 23,
  notAuthoritative: 20,
} as const;

interface Outcome {
  response: Uint8Array | null;
  event: Pick<QueryEvent, 'rcode' | 'outcome' | 'category' | 'rule' | 'upstream'>;
}

/**
 * One query in, one answer out: the firewall's whole pipeline, independent
 * of transport. Order: parse → who is asking (refuse strangers) → rate
 * limit → the canary → internal zones → block lists → cache → upstreams
 * (coalesced, failing over, serving stale when all fail) → rebinding
 * filter → EDNS, padding and truncation for the transport.
 */
export class Resolver {
  readonly cache: ResponseCache;
  readonly #opts: ResolverOptions;
  readonly #firewall: Firewall;
  readonly #now: () => number;
  readonly #blockTtl: number;
  readonly #rebindingAllowed: string[];
  #clients: ClientDirectory;
  /** Identical questions in flight share one upstream exchange. */
  readonly #inflight = new Map<string, Promise<Uint8Array | null>>();
  /** CNAME targets of cached answers, so a hit is still checked against the client's policy. */
  readonly #cnameTargets = new Map<string, string[]>();

  constructor(opts: ResolverOptions) {
    this.#opts = opts;
    this.cache = opts.cache ?? new ResponseCache();
    this.#firewall = new Firewall(opts.lists);
    this.#now = opts.now ?? Date.now;
    this.#blockTtl = opts.blockTtl ?? 10;
    this.#rebindingAllowed = (opts.rebindingAllowed ?? []).map((n) => n.toLowerCase());
    this.#clients = new ClientDirectory({ zones: [], groups: [], clients: [] }, opts.defaults);
  }

  /** Installs the directory's current zones, groups and clients (whole, atomically). */
  setSnapshot(snapshot: DnsSnapshot): void {
    this.#clients = new ClientDirectory(snapshot, this.#opts.defaults);
  }

  /** Forgets every org's zones and clients (at seal): only the defaults remain. */
  clearSnapshot(): void {
    this.setSnapshot({ zones: [], groups: [], clients: [] });
  }

  knowsToken(tokenHash: string): boolean {
    return this.#clients.knowsToken(tokenHash);
  }

  /**
   * The answer to send, or null to send nothing (unanswerable garbage,
   * rate-limited drops). Synchronous unless an upstream must be asked: a
   * cache hit, a block or an internal answer costs no promise, which is most
   * of a busy resolver's work.
   */
  handle(query: Uint8Array, origin: QueryOrigin): Uint8Array | null | Promise<Uint8Array | null> {
    const started = this.#now();
    const parsed = decodeQuery(query);
    if (!parsed.ok) {
      this.#opts.onMalformed?.(origin.protocol);
      // Without a readable id an answer could not be matched: silence (RFC 1035 leaves it open).
      return parsed.id === null ? null : encodeHeaderOnly(parsed.id, parsed.rcode);
    }
    const facts = parsed.facts;
    const client = this.#clients.identify(origin);
    let outcome: Outcome | Promise<Outcome>;
    if (client === null) {
      outcome = this.#bare(
        facts,
        'REFUSED',
        'refused',
        {
          code: ede.prohibited,
          text: 'not a client of this resolver',
        },
        origin,
      );
    } else {
      const limited = this.#opts.rateLimiter?.check(origin.address, origin.protocol) ?? 'allow';
      if (limited !== 'allow') {
        this.#opts.onRateLimited?.(limited);
        if (limited === 'drop' && origin.protocol === 'udp') return null;
        // slip: an empty truncated answer sends a real client to TCP, where spoofing cannot follow.
        return limited === 'slip'
          ? encodeBare(facts, 'NOERROR', 1 << 9)
          : encodeBare(facts, 'REFUSED');
      }
      outcome = this.#answer(facts, client, origin);
    }
    if (outcome instanceof Promise) {
      return outcome.then((o) => this.#report(o, facts, client, origin, started));
    }
    return this.#report(outcome, facts, client, origin, started);
  }

  #report(
    outcome: Outcome,
    facts: QueryFacts,
    client: ClientContext | null,
    origin: QueryOrigin,
    started: number,
  ): Uint8Array | null {
    this.#opts.onQuery?.({
      at: started,
      clientAddress: origin.address,
      clientId: client?.client?.id ?? null,
      groupId: client?.group?.id ?? null,
      orgId: client?.policy.orgId ?? null,
      protocol: origin.protocol,
      name: facts.name,
      type: typeName(facts.type),
      durationMs: this.#now() - started,
      logMode: client?.policy.queryLog ?? 'off',
      ...outcome.event,
    });
    return outcome.response;
  }

  #answer(
    facts: QueryFacts,
    client: ClientContext,
    origin: QueryOrigin,
  ): Outcome | Promise<Outcome> {
    const name = facts.name;
    if (facts.klass !== 1) return this.#bare(facts, 'NOTIMP', 'refused', undefined, origin);
    if (name === canaryName || name.endsWith(`.${canaryName}`)) {
      return this.#bare(facts, 'NXDOMAIN', 'internal', undefined, origin);
    }
    const local = this.#special(facts, origin);
    if (local) return local;
    if (client.zones) {
      const internal = this.#internal(facts, client, origin);
      if (internal) return internal;
    }
    const block = this.#firewall.decide(name, client.policy);
    if (block) return this.#blocked(facts, block, client, origin);
    if (facts.type === 255) {
      // RFC 8482: ANY gets one small synthesised record, not an amplifier's payload.
      const hinfo = { name, type: 'HINFO', ttl: 3600, data: { cpu: 'RFC8482', os: '' } };
      return this.#finish(
        facts,
        encodeAnswer(facts, { rcode: 'NOERROR', answers: [hinfo as Answer] }),
        origin,
        {
          rcode: 'NOERROR',
          outcome: 'answered',
          category: null,
          rule: null,
          upstream: null,
        },
      );
    }
    return this.#recurse(facts, client, origin);
  }

  #recurse(
    facts: QueryFacts,
    client: ClientContext,
    origin: QueryOrigin,
  ): Outcome | Promise<Outcome> {
    const key = ResponseCache.key(facts.name, facts.type, facts.klass, facts.dnssecOk);
    const now = this.#now();
    const hit = this.cache.get(key, now, {
      id: facts.id,
      allowStale: false,
      question: facts.question,
    });
    if (hit) {
      const cnameBlock = this.#checkTargets(key, client);
      if (cnameBlock) return this.#blocked(facts, cnameBlock, client, origin);
      return this.#finish(facts, withClientFlags(hit.response, facts), origin, {
        rcode: rcodeName(hit.response),
        outcome: 'cached',
        category: null,
        rule: null,
        upstream: null,
      });
    }
    if (!this.#opts.upstreams) {
      return this.#bare(
        facts,
        'REFUSED',
        'refused',
        {
          code: ede.notAuthoritative,
          text: 'air-gapped: only internal names resolve here',
        },
        origin,
      );
    }
    return this.#recurseUpstream(facts, client, origin, key);
  }

  async #recurseUpstream(
    facts: QueryFacts,
    client: ClientContext,
    origin: QueryOrigin,
    key: string,
  ): Promise<Outcome> {
    let fetched = this.#inflight.get(key);
    if (!fetched) {
      fetched = this.#fetch(facts, key);
      this.#inflight.set(key, fetched);
      void fetched.finally(() => this.#inflight.delete(key));
    }
    const fresh = await fetched;
    if (fresh) {
      const cnameBlock = this.#checkTargets(key, client);
      if (cnameBlock) return this.#blocked(facts, cnameBlock, client, origin);
      const response =
        this.cache.get(key, this.#now(), {
          id: facts.id,
          allowStale: true,
          question: facts.question,
        })?.response ?? reidentify(fresh, facts);
      return this.#finish(facts, withClientFlags(response, facts), origin, {
        rcode: rcodeName(response),
        outcome: 'answered',
        category: null,
        rule: null,
        upstream: this.#lastUpstream.get(key) ?? null,
      });
    }
    // Every upstream failed: an expired answer beats none (RFC 8767).
    const stale = this.cache.get(key, this.#now(), {
      id: facts.id,
      allowStale: true,
      question: facts.question,
    });
    if (stale) {
      return this.#finish(
        facts,
        withClientFlags(stale.response, facts),
        origin,
        {
          rcode: rcodeName(stale.response),
          outcome: 'stale',
          category: null,
          rule: null,
          upstream: null,
        },
        { code: ede.staleAnswer, text: 'upstream resolvers unreachable; answer from cache' },
      );
    }
    return this.#bare(
      facts,
      'SERVFAIL',
      'failed',
      {
        code: ede.networkError,
        text: 'upstream resolvers unreachable',
      },
      origin,
    );
  }

  readonly #lastUpstream = new Map<string, string>();

  /** Asks the upstreams; caches and returns our cleaned answer, or null when all failed. */
  async #fetch(facts: QueryFacts, key: string): Promise<Uint8Array | null> {
    const pool = this.#opts.upstreams;
    if (!pool) return null;
    let reply: { response: Uint8Array; upstream: string };
    try {
      reply = await pool.exchange(upstreamQuery(facts));
    } catch {
      return null;
    }
    const cleaned = cleanUpstreamAnswer(facts, reply.response, this.#rebindingExempt(facts.name));
    if (!cleaned) return null;
    const { response, targets } = cleaned;
    this.cache.set(key, response, this.#now());
    if (targets.length > 0) this.#cnameTargets.set(key, targets);
    else this.#cnameTargets.delete(key);
    this.#lastUpstream.set(key, reply.upstream);
    if (this.#lastUpstream.size > 10_000) this.#lastUpstream.clear();
    if (this.#cnameTargets.size > maxAliasedAnswers) {
      // The oldest aliased answer leaves the cache with its targets: a cached answer
      // whose CNAME targets were forgotten would skip the cloaking check on every hit.
      const oldest = this.#cnameTargets.keys().next().value;
      if (oldest !== undefined) {
        this.#cnameTargets.delete(oldest);
        this.cache.delete(oldest);
      }
    }
    return response;
  }

  /** CNAME cloaking: a tracker behind a first-party alias is still the tracker. */
  #checkTargets(key: string, client: ClientContext): Block | null {
    const targets = this.#cnameTargets.get(key);
    if (!targets) return null;
    for (const target of targets) {
      const block = this.#firewall.decide(target, client.policy);
      if (block) return block;
    }
    return null;
  }

  #internal(
    facts: QueryFacts,
    client: ClientContext,
    origin: QueryOrigin,
  ): Outcome | Promise<Outcome> | null {
    const found = client.zones?.lookup(facts.name, typeName(facts.type));
    if (!found) return null;
    const event = { outcome: 'internal' as const, category: null, rule: null, upstream: null };
    if (found.kind === 'cname-out') {
      // Our alias, the world's target: resolve the target here (stubs like glibc's do not
      // follow a bare CNAME), under the same firewall.
      const block = this.#firewall.decide(found.target, client.policy);
      if (block) return this.#blocked(facts, block, client, origin);
      return this.#resolveTarget(found.target, facts).then((tail) =>
        this.#finish(
          facts,
          encodeAnswer(facts, {
            rcode: tail?.rcode ?? 'NOERROR',
            answers: [...found.answers, ...(tail?.answers ?? [])],
            authoritative: true,
          }),
          origin,
          { ...event, rcode: tail?.rcode ?? 'NOERROR' },
        ),
      );
    }
    const rcode: Rcode = found.kind === 'nxdomain' ? 'NXDOMAIN' : 'NOERROR';
    return this.#finish(
      facts,
      encodeAnswer(facts, {
        rcode,
        answers: found.answers,
        authorities: found.authority,
        authoritative: true,
      }),
      origin,
      { ...event, rcode },
    );
  }

  /** The records of a name outside our zones (cache, then upstreams); null when unreachable. */
  async #resolveTarget(
    target: string,
    facts: QueryFacts,
  ): Promise<{ rcode: Rcode; answers: Answer[] } | null> {
    const targetFacts: QueryFacts = {
      ...facts,
      id: 0,
      name: target,
      question: questionBytes(target, facts.type),
    };
    const key = ResponseCache.key(target, facts.type, facts.klass, facts.dnssecOk);
    const cached = this.cache.get(key, this.#now(), { id: 0, allowStale: false });
    let wire: Uint8Array | null = cached?.response ?? null;
    if (!wire && this.#opts.upstreams) {
      let fetched = this.#inflight.get(key);
      if (!fetched) {
        fetched = this.#fetch(targetFacts, key);
        this.#inflight.set(key, fetched);
        void fetched.finally(() => this.#inflight.delete(key));
      }
      wire = await fetched;
    }
    if (!wire) return null;
    try {
      const decoded = packet.decode(Buffer.from(wire));
      const code = (decoded.flags ?? 0) & 0xf;
      return { rcode: code === 3 ? 'NXDOMAIN' : 'NOERROR', answers: decoded.answers ?? [] };
    } catch {
      return null;
    }
  }

  #blocked(facts: QueryFacts, block: Block, client: ClientContext, origin: QueryOrigin): Outcome {
    const event = {
      outcome: 'blocked' as const,
      category: block.category,
      rule: block.rule,
      upstream: null,
    };
    const note = { code: ede.blocked, text: `blocked (${block.category})` };
    // Over HTTP some answer must go back; there a dropped name gets NODATA instead.
    if (block.answer === 'drop' && origin.protocol !== 'doh') {
      return { response: null, event: { ...event, rcode: 'NOERROR' } };
    }
    if (block.answer === 'nxdomain') {
      return this.#finish(
        facts,
        encodeBare(facts, 'NXDOMAIN'),
        origin,
        { ...event, rcode: 'NXDOMAIN' },
        note,
      );
    }
    const answers: Answer[] = [];
    if (block.answer === 'null' || block.answer === 'sinkhole') {
      const sinkhole =
        block.answer === 'sinkhole' ? client.policy.sinkhole : { ipv4: '0.0.0.0', ipv6: '::' };
      const address = facts.type === 1 ? sinkhole.ipv4 : facts.type === 28 ? sinkhole.ipv6 : null;
      if (address) {
        answers.push({
          name: facts.name,
          type: facts.type === 1 ? 'A' : 'AAAA',
          ttl: this.#blockTtl,
          data: address,
        } as Answer);
      }
    }
    return this.#finish(
      facts,
      encodeAnswer(facts, { rcode: 'NOERROR', answers }),
      origin,
      { ...event, rcode: 'NOERROR' },
      note,
    );
  }

  /** RFC 6761/6303 names that must never leave the building. */
  #special(facts: QueryFacts, origin: QueryOrigin): Outcome | null {
    const name = facts.name;
    const event = { outcome: 'internal' as const, category: null, rule: null, upstream: null };
    if (name === 'localhost' || name.endsWith('.localhost')) {
      const data = facts.type === 1 ? '127.0.0.1' : facts.type === 28 ? '::1' : null;
      const answers = data
        ? [{ name, type: facts.type === 1 ? 'A' : 'AAAA', ttl: 3600, data } as Answer]
        : [];
      return this.#finish(
        facts,
        encodeAnswer(facts, { rcode: 'NOERROR', answers, authoritative: true }),
        origin,
        { ...event, rcode: 'NOERROR' },
      );
    }
    if (
      name === 'invalid' ||
      name.endsWith('.invalid') ||
      name.endsWith('.local') ||
      isPrivateReverse(name)
    ) {
      return this.#finish(facts, encodeBare(facts, 'NXDOMAIN'), origin, {
        ...event,
        rcode: 'NXDOMAIN',
      });
    }
    return null;
  }

  #rebindingExempt(name: string): boolean {
    return this.#rebindingAllowed.some((n) => name === n || name.endsWith(`.${n}`));
  }

  #bare(
    facts: QueryFacts,
    rcode: Rcode,
    outcome: QueryEvent['outcome'],
    note: { code: number; text: string } | undefined,
    origin: QueryOrigin,
  ): Outcome {
    return this.#finish(
      facts,
      encodeBare(facts, rcode),
      origin,
      { rcode, outcome, category: null, rule: null, upstream: null },
      note,
    );
  }

  #finish(
    facts: QueryFacts,
    response: Uint8Array,
    origin: QueryOrigin,
    event: Outcome['event'],
    note?: { code: number; text: string },
  ): Outcome {
    const encrypted = origin.protocol === 'dot' || origin.protocol === 'doh';
    const maxBytes =
      origin.protocol === 'udp'
        ? facts.ednsSize === null
          ? classicUdpBytes
          : Math.min(facts.ednsSize, ednsUdpBytes)
        : 65535;
    return {
      response: finishResponse(response, facts, {
        pad: encrypted,
        maxBytes,
        ...(note ? { ede: note } : {}),
      }),
      event,
    };
  }
}
