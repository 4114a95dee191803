import type { FirewallPolicy } from '@bulwark/dns';
import { categoryUnion } from '../policy/effective.ts';
import type { EffectivePolicy } from '../policy/policy.ts';
import type { GroupSettings } from './client-groups.ts';

/** The DNS part of an org's or a project's effective policy. */
export type DnsPolicyFields = Pick<
  EffectivePolicy,
  'dnsBlockCategories' | 'dnsQueryLog' | 'dnsQueryLogRetentionDays'
>;

/**
 * The firewall policy of one client group: the effective policy it sits
 * under (its org's, or its project's, which only adds to it) plus what the
 * group adds. A group can only block more: its categories join the
 * policy's, and its rules and answer mode are its own. The query log mode is
 * the policy's alone, so no group setting can keep more about people's
 * look-ups than their org and project allow.
 */
export function groupFirewallPolicy(
  id: string,
  orgId: string,
  effective: DnsPolicyFields,
  group: Pick<GroupSettings, 'blockCategories' | 'rules' | 'answer' | 'sinkhole'>,
): FirewallPolicy {
  return {
    id,
    orgId,
    blockCategories: categoryUnion(effective.dnsBlockCategories, group.blockCategories),
    rules: group.rules.map((r) => ({ action: r.action, pattern: r.pattern })),
    answer: group.answer,
    sinkhole: { ipv4: group.sinkhole.ipv4, ipv6: group.sinkhole.ipv6 },
    queryLog: effective.dnsQueryLog,
  };
}

/** The org's policy with nothing added (id `org:<orgId>`): NXDOMAIN, no rules of its own. */
export function orgFirewallPolicy(orgId: string, effective: DnsPolicyFields): FirewallPolicy {
  return groupFirewallPolicy(`org:${orgId}`, orgId, effective, {
    blockCategories: [],
    rules: [],
    answer: 'nxdomain',
    sinkhole: { ipv4: null, ipv6: null },
  });
}
