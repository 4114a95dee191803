import { blockAnswers, dnsCategories, queryLogModes } from '@bulwark/dns';
import { z } from 'zod';
import { parseCidr } from '../policy/policy.ts';

/**
 * The `dns` section: the organisation's resolver and firewall
 * (docs/dns.md). Off by default; when on, it listens on its own ports and
 * answers DNS over HTTPS at /dns-query on the main HTTPS port.
 */

const booleanError = 'expected true or false';
const portOrNull = z
  .int({ error: 'expected a port number (0 for any free port) or null to turn it off' })
  .min(0, 'expected a port between 0 and 65535')
  .max(65535, 'expected a port between 0 and 65535')
  .nullable();

/** Canonical ranges only: `10.1.2.3/8` is refused (it may have meant /24), as in policies. */
const cidrList = z.array(
  z.string().superRefine((text, ctx) => {
    const range = parseCidr(text);
    if ('error' in range) ctx.addIssue({ code: 'custom', message: range.error });
  }),
  { error: 'expected a list of address ranges like 192.0.2.0/24 or 2001:db8::/48' },
);

const upstreamShape = {
  url: z
    .string({ error: 'expected tls://host[:port] or https://host[:port]/path' })
    .refine((u) => /^(tls|https):\/\//i.test(u) && URL.canParse(u), {
      error:
        'expected tls://host[:port] (DNS over TLS) or https://host/dns-query (DNS over HTTPS): plaintext DNS never leaves the organisation',
    }),
  serverName: z.string({ error: 'expected the TLS name the upstream presents' }).optional(),
  caFile: z.string({ error: 'expected a file path' }).min(1).optional(),
  spkiPins: z
    .array(z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'expected base64 SHA-256 pins'))
    .optional(),
};

const listShape = {
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'expected lower-case letters, digits and dashes'),
  source: z.string({ error: 'expected an https:// URL or a file path' }).min(1),
  format: z.enum(['hosts', 'domains', 'adblock', 'rpz'], {
    error: 'expected hosts, domains, adblock or rpz',
  }),
  category: z.enum(dnsCategories, { error: `expected one of ${dnsCategories.join(', ')}` }),
  answer: z.enum(blockAnswers, { error: `expected one of ${blockAnswers.join(', ')}` }).optional(),
  refreshMinutes: z.int().min(5, 'at least 5 minutes').max(10080, 'at most a week').default(1440),
  /** The CA (PEM) of an internal list server; default: the system's CAs. */
  caFile: z.string({ error: 'expected a file path' }).min(1).optional(),
};

const defaultPolicyShape = {
  blockCategories: z
    .array(
      z.enum(dnsCategories, { error: `expected categories among ${dnsCategories.join(', ')}` }),
    )
    .default(['malware', 'phishing']),
  answer: z
    .enum(['nxdomain', 'null', 'sinkhole'], { error: 'expected nxdomain, null or sinkhole' })
    .default('nxdomain'),
  sinkholeIpv4: z.ipv4({ error: 'expected an IPv4 address' }).optional(),
  sinkholeIpv6: z.ipv6({ error: 'expected an IPv6 address' }).optional(),
  queryLog: z
    .enum(queryLogModes, { error: `expected one of ${queryLogModes.join(', ')}` })
    .default('anonymised'),
};

const section = (shape: object) => ({
  error: `expected an object with keys ${Object.keys(shape).join(', ')}`,
});

export const dnsShape = {
  enabled: z.boolean({ error: booleanError }).default(false),
  /** Where the UDP/TCP/DoT listeners bind (DoH shares the main HTTPS port). */
  host: z.string().min(1).default('127.0.0.1'),
  /** 5353 for development; 53 in production (needs CAP_NET_BIND_SERVICE). */
  udpPort: portOrNull.default(5353),
  tcpPort: portOrNull.default(5353),
  dotPort: portOrNull.default(853),
  upstreams: z.array(z.object(upstreamShape, section(upstreamShape)).strict()).default([]),
  /** No upstream at all: only internal zones answer (networks cut off from the internet). */
  airGapped: z.boolean({ error: booleanError }).default(false),
  /** Who may use the resolver without a registered client token or certificate. */
  allowedClientRanges: cidrList.default([
    '127.0.0.0/8',
    '::1/128',
    '10.0.0.0/8',
    '172.16.0.0/12',
    '192.168.0.0/16',
    'fc00::/7',
  ]),
  /**
   * Orgs (slugs; "*" for all) whose admins may give client groups source
   * address ranges, besides the installation's first org. Other orgs
   * register devices (DoH URL, DoT certificate) instead.
   */
  rangeOrgs: z.array(z.string().min(1, 'expected an org slug or *')).default([]),
  lists: z
    .array(z.object(listShape, section(listShape)).strict())
    .refine((l) => new Set(l.map((x) => x.id)).size === l.length, {
      error: 'list ids must be unique',
    })
    .default([]),
  /** For clients no client group claims. */
  defaultPolicy: z.object(defaultPolicyShape, section(defaultPolicyShape)).strict().prefault({}),
  /** Names allowed to resolve to private addresses (rebinding protection spares them). */
  rebindingAllowed: z.array(z.string().min(1)).default([]),
  /** Per client address (/32, /56); 0 turns limiting off. */
  rateLimitPerSecond: z.int().min(0).max(1_000_000).default(200),
  cacheEntries: z.int().min(1000).max(10_000_000).default(100_000),
};

export const dnsSchema = z
  .object(dnsShape, section(dnsShape))
  .strict()
  .superRefine((dns, ctx) => {
    if (!dns.enabled) return;
    if (!dns.airGapped && dns.upstreams.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['upstreams'],
        message:
          'give at least one DNS-over-TLS or DNS-over-HTTPS upstream, or set airGapped: true',
      });
    }
    if (dns.airGapped && dns.upstreams.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['airGapped'],
        message: 'airGapped with upstreams: choose one',
      });
    }
    if (
      dns.defaultPolicy.answer === 'sinkhole' &&
      !dns.defaultPolicy.sinkholeIpv4 &&
      !dns.defaultPolicy.sinkholeIpv6
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['defaultPolicy', 'answer'],
        message: 'sinkhole needs sinkholeIpv4 or sinkholeIpv6',
      });
    }
  });

export type DnsConfig = z.output<typeof dnsSchema>;

export const dnsAllowedKeys = {
  dns: Object.keys(dnsShape),
  'dns.defaultPolicy': Object.keys(defaultPolicyShape),
};
