/**
 * Security policy editing: the org's complete policy, and a project's
 * override shown beside the org policy and the effective result. Fields are
 * shown only when the server's policy has them; errors are the server's,
 * placed at the field they name (400 details, "looser than the org"
 * sentences) with `would_lock_out` explained.
 */
import { type ReactNode, useId, useState } from 'react';
import { ApiError } from '../../api/client.ts';
import { Banner, Button, Checkbox, ErrorNote } from '../../ui/components.tsx';
import './admin.css';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type PolicyObject = { [key: string]: Json };

type Kind = 'methods' | 'bool' | 'list' | 'int' | 'intOrNull' | 'select' | 'categories';

export interface FieldDef {
  key: string;
  label: string;
  kind: Kind;
  hint?: string;
  options?: { value: string; label: string }[];
  /** For `list` and `intOrNull`: what null (an empty field) means. */
  nullMeans?: string;
  unit?: string;
}

const methodOptions = [
  { value: 'passkey', label: 'Passkey' },
  { value: 'totp', label: 'Authenticator app (TOTP)' },
  { value: 'password', label: 'Password' },
  { value: 'sms', label: 'SMS code (insecure)' },
  { value: 'ldap', label: 'Directory (LDAP / AD)' },
  { value: 'oidc', label: 'Identity provider (OIDC)' },
];

export const audienceFields: FieldDef[] = [
  {
    key: 'authMethods',
    label: 'Sign-in methods',
    kind: 'methods',
    options: methodOptions,
    hint: 'Needs a complete sign-in: passkey, LDAP or OIDC, or a password with TOTP or SMS.',
  },
  {
    key: 'phishingResistantMfa',
    label: 'Phishing-resistant MFA only (passkeys)',
    kind: 'bool',
  },
  {
    key: 'allowedAaguids',
    label: 'Allowed authenticator models (AAGUIDs)',
    kind: 'list',
    nullMeans: 'any authenticator',
    hint: 'One AAGUID per line, e.g. cb69481e-8ff7-4039-93ec-0a2729a154a8. Empty: any authenticator.',
  },
  {
    key: 'sessionIdleMinutes',
    label: 'Session idle limit',
    kind: 'int',
    unit: 'minutes',
    hint: '1–1440 minutes.',
  },
  {
    key: 'sessionAbsoluteHours',
    label: 'Session absolute limit',
    kind: 'int',
    unit: 'hours',
    hint: '1–720 hours.',
  },
  {
    key: 'sourceCidrs',
    label: 'Allowed networks (CIDR ranges)',
    kind: 'list',
    nullMeans: 'anywhere',
    hint: 'One range per line, e.g. 10.0.0.0/8. Empty: from anywhere.',
  },
  { key: 'exportAllowed', label: 'May export', kind: 'bool' },
  { key: 'callsAllowed', label: 'May take part in calls', kind: 'bool' },
  { key: 'deviceVerificationRequired', label: 'Devices must be verified', kind: 'bool' },
];

export const generalFields: FieldDef[] = [
  { key: 'issueLinkRequired', label: 'Changes must cite an issue', kind: 'bool' },
  {
    key: 'retentionDays',
    label: 'Retention',
    kind: 'intOrNull',
    unit: 'days',
    nullMeans: 'kept forever',
    hint: '1–36500 days before data is deleted. Empty: kept forever.',
  },
  {
    key: 'e2eeCiphersuite',
    label: 'Encryption of new conversations',
    kind: 'select',
    options: [
      { value: 'classic', label: 'Classic (X25519)' },
      { value: 'post-quantum', label: 'Post-quantum (X-Wing)' },
    ],
  },
  {
    key: 'attachmentMaxMB',
    label: 'Largest chat attachment',
    kind: 'int',
    unit: 'MiB',
    hint: '1–100 MiB.',
  },
  {
    key: 'dnsBlockCategories',
    label: 'DNS firewall blocks',
    kind: 'categories',
    options: [
      { value: 'malware', label: 'Malware' },
      { value: 'phishing', label: 'Phishing' },
      { value: 'trackers', label: 'Trackers' },
      { value: 'ads', label: 'Ads' },
      { value: 'custom', label: 'Custom lists' },
    ],
  },
  {
    key: 'dnsQueryLog',
    label: 'DNS query log keeps',
    kind: 'select',
    options: [
      { value: 'off', label: 'Nothing (off)' },
      { value: 'anonymised', label: 'Anonymised (network only)' },
      { value: 'full', label: 'Full (address and device)' },
    ],
  },
  {
    key: 'dnsQueryLogRetentionDays',
    label: 'DNS query log kept for',
    kind: 'int',
    unit: 'days',
    hint: '1–365 days.',
  },
];

export const audienceNames = {
  internal: 'Internal people (the org’s own)',
  external: 'External people (partners and guests)',
} as const;
export type Audience = keyof typeof audienceNames;

// --- drafts: what the inputs hold -------------------------------------------

export type Draft = string | boolean | string[];

export function toDraft(value: Json | undefined, def: FieldDef): Draft {
  switch (def.kind) {
    case 'methods':
    case 'categories':
      return Array.isArray(value) ? value.map(String) : [];
    case 'bool':
      return value === true;
    case 'list':
      return Array.isArray(value) ? value.map(String).join('\n') : '';
    default:
      return value === null || value === undefined ? '' : String(value);
  }
}

/** Back to JSON; a number field that does not parse goes as text so the server names it. */
export function fromDraft(draft: Draft, def: FieldDef): Json {
  switch (def.kind) {
    case 'methods':
    case 'categories':
      return draft as string[];
    case 'bool':
      return draft === true;
    case 'list': {
      const items = String(draft)
        .split(/[\n,]+/)
        .map((s) => s.trim())
        .filter(Boolean);
      return items.length ? items : null;
    }
    case 'int':
    case 'intOrNull': {
      const text = String(draft).trim();
      if (text === '' && def.kind === 'intOrNull') return null;
      const n = Number(text);
      return text !== '' && Number.isFinite(n) ? n : text;
    }
    default:
      return String(draft);
  }
}

/** A value for reading (org and effective columns). */
export function showValue(value: Json | undefined, def: FieldDef): string {
  if (value === undefined) return '—';
  if (value === null) return def.nullMeans ?? 'none';
  if (typeof value === 'boolean') return value ? 'Yes' : 'No';
  if (Array.isArray(value)) {
    if (def.key === 'sourceCidrs' && value.every(Array.isArray)) {
      // Effective ranges: every list applies.
      if (value.length === 0) return 'anywhere';
      return value.map((list) => (list as Json[]).join(', ')).join(' — and also — ');
    }
    if (value.length === 0) return def.kind === 'categories' ? 'none' : '—';
    const labels = def.options
      ? value.map((v) => def.options?.find((o) => o.value === v)?.label ?? String(v))
      : value.map(String);
    return labels.join(', ');
  }
  if (def.options) return def.options.find((o) => o.value === value)?.label ?? String(value);
  return def.unit ? `${value} ${def.unit}` : String(value);
}

// --- errors at their fields -------------------------------------------------

const fieldPathPattern =
  /(?:^|; )((?:internal|external)\.[A-Za-z]+|issueLinkRequired|retentionDays|e2eeCiphersuite|attachmentMaxMB|dnsBlockCategories|dnsQueryLog|dnsQueryLogRetentionDays): /g;

/**
 * Field errors from a refused policy: zod `details` ({path, message}) and
 * the "may only tighten its org's: a.b: …; c: …" sentences, by field path
 * (`internal.sessionIdleMinutes`, `retentionDays`).
 */
export function policyFieldErrors(error: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!(error instanceof ApiError)) return out;
  const add = (path: string, message: string) => {
    const parts = path.split('.');
    const key =
      parts[0] === 'internal' || parts[0] === 'external'
        ? parts.slice(0, 2).join('.')
        : (parts[0] ?? '');
    if (!key) return;
    out[key] = out[key] ? `${out[key]} ${message}` : message;
  };
  if (Array.isArray(error.details)) {
    for (const d of error.details as { path?: unknown; message?: unknown }[]) {
      if (typeof d?.path === 'string' && typeof d.message === 'string') add(d.path, d.message);
    }
  }
  const marker = "may only tighten its org's: ";
  const at = error.message.indexOf(marker);
  if (at >= 0) {
    const rest = error.message.slice(at + marker.length).replace(/\.$/, '');
    const matches = [...rest.matchAll(fieldPathPattern)];
    matches.forEach((m, i) => {
      const start = (m.index ?? 0) + m[0].length;
      const end = matches[i + 1]?.index ?? rest.length;
      add(m[1] as string, rest.slice(start, end));
    });
  }
  return out;
}

/** The refusal above the form: lock-out explained, the rest in the server's words. */
export function PolicyError({ error }: { error: unknown }) {
  if (error instanceof ApiError && error.code === 'would_lock_out')
    return (
      <Banner tone="danger" title="Not saved: this policy would lock administrators out">
        {error.message} Under the new rules you — or every administrator — could no longer sign in,
        so nothing was changed. Keep a method the administrators have (a passkey always works) or
        include the network you are connecting from.
      </Banner>
    );
  if (error instanceof ApiError && error.code === 'bad_request')
    return (
      <Banner tone="danger" title="Not saved: the server refused some values">
        {error.message} Each problem is shown at its field below.
      </Banner>
    );
  return <ErrorNote error={error} />;
}

// --- inputs -----------------------------------------------------------------

export function FieldInput({
  def,
  value,
  onChange,
  label,
  error,
  disabled,
}: {
  def: FieldDef;
  value: Draft;
  onChange: (value: Draft) => void;
  label: string;
  error?: string | undefined;
  disabled?: boolean;
}) {
  const id = useId();
  const note = error ? (
    <p className="field-error" id={`${id}-error`}>
      {error}
    </p>
  ) : def.hint ? (
    <p className="field-hint" id={`${id}-hint`}>
      {def.hint}
    </p>
  ) : null;
  const describedBy = error ? `${id}-error` : def.hint ? `${id}-hint` : undefined;
  if (def.kind === 'methods' || def.kind === 'categories') {
    const selected = value as string[];
    return (
      <fieldset className="fieldset" aria-describedby={describedBy} disabled={disabled}>
        <legend>{label}</legend>
        <div className="checkbox-group">
          {def.options?.map((o) => (
            <Checkbox
              key={o.value}
              label={o.label}
              checked={selected.includes(o.value)}
              onChange={(e) =>
                onChange(
                  e.target.checked
                    ? [...selected, o.value]
                    : selected.filter((item) => item !== o.value),
                )
              }
            />
          ))}
        </div>
        {note}
      </fieldset>
    );
  }
  if (def.kind === 'bool')
    return (
      <div className="field">
        <div className="checkbox">
          <input
            id={id}
            type="checkbox"
            checked={value === true}
            disabled={disabled}
            aria-describedby={describedBy}
            aria-invalid={error ? true : undefined}
            onChange={(e) => onChange(e.target.checked)}
          />
          <label htmlFor={id}>{label}</label>
        </div>
        {note}
      </div>
    );
  return (
    <div className="field">
      <label htmlFor={id}>
        {label}
        {def.unit ? ` (${def.unit})` : ''}
      </label>
      {def.kind === 'list' ? (
        <textarea
          id={id}
          value={value as string}
          disabled={disabled}
          rows={3}
          aria-describedby={describedBy}
          aria-invalid={error ? true : undefined}
          onChange={(e) => onChange(e.target.value)}
        />
      ) : def.kind === 'select' ? (
        <select
          id={id}
          value={value as string}
          disabled={disabled}
          aria-describedby={describedBy}
          onChange={(e) => onChange(e.target.value)}
        >
          {def.options?.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      ) : (
        <input
          id={id}
          type="text"
          inputMode="numeric"
          value={value as string}
          disabled={disabled}
          aria-describedby={describedBy}
          aria-invalid={error ? true : undefined}
          onChange={(e) => onChange(e.target.value)}
        />
      )}
      {note}
    </div>
  );
}

// --- the org policy -----------------------------------------------------------

/** The complete org policy: every field the server's policy has, by audience and overall. */
export function OrgPolicyEditor({
  policy,
  onSave,
  saving,
  error,
  readOnly = false,
}: {
  policy: PolicyObject;
  onSave: (policy: PolicyObject) => void;
  saving: boolean;
  error: unknown;
  readOnly?: boolean;
}) {
  const [drafts, setDrafts] = useState<Record<string, Draft>>(() => {
    const out: Record<string, Draft> = {};
    for (const audience of ['internal', 'external'] as const) {
      const rules = (policy[audience] ?? {}) as PolicyObject;
      for (const def of audienceFields)
        if (def.key in rules) out[`${audience}.${def.key}`] = toDraft(rules[def.key], def);
    }
    for (const def of generalFields)
      if (def.key in policy) out[def.key] = toDraft(policy[def.key], def);
    return out;
  });
  const errors = policyFieldErrors(error);
  const set = (key: string) => (value: Draft) => setDrafts((d) => ({ ...d, [key]: value }));

  const build = (): PolicyObject => {
    const next: PolicyObject = structuredClone(policy);
    for (const audience of ['internal', 'external'] as const) {
      const rules = { ...((policy[audience] ?? {}) as PolicyObject) };
      for (const def of audienceFields) {
        const draft = drafts[`${audience}.${def.key}`];
        if (draft !== undefined) rules[def.key] = fromDraft(draft, def);
      }
      next[audience] = rules;
    }
    for (const def of generalFields) {
      const draft = drafts[def.key];
      if (draft !== undefined) next[def.key] = fromDraft(draft, def);
    }
    return next;
  };

  const section = (title: string, children: ReactNode) => (
    <fieldset className="fieldset">
      <legend>{title}</legend>
      {children}
    </fieldset>
  );

  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        onSave(build());
      }}
      aria-label="Org security policy"
    >
      <PolicyError error={error} />
      {(['internal', 'external'] as const).map((audience) =>
        section(
          audienceNames[audience],
          audienceFields
            .filter((def) => drafts[`${audience}.${def.key}`] !== undefined)
            .map((def) => (
              <FieldInput
                key={def.key}
                def={def}
                label={def.label}
                value={drafts[`${audience}.${def.key}`] as Draft}
                onChange={set(`${audience}.${def.key}`)}
                error={errors[`${audience}.${def.key}`]}
                disabled={readOnly}
              />
            )),
        ),
      )}
      {section(
        'For everyone',
        generalFields
          .filter((def) => drafts[def.key] !== undefined)
          .map((def) => (
            <FieldInput
              key={def.key}
              def={def}
              label={def.label}
              value={drafts[def.key] as Draft}
              onChange={set(def.key)}
              error={errors[def.key]}
              disabled={readOnly}
            />
          )),
      )}
      {readOnly ? (
        <p className="muted">Only the org's owners and admins change its policy.</p>
      ) : (
        <div className="btn-row">
          <Button type="submit" variant="primary" busy={saving}>
            Save policy
          </Button>
          <span className="muted">
            Applies at the next request of every session; you may be asked to confirm with your
            passkey.
          </span>
        </div>
      )}
    </form>
  );
}

// --- a project's override --------------------------------------------------------

export interface ProjectPolicyView {
  org: PolicyObject;
  project: PolicyObject | null;
  effective: PolicyObject;
}

interface Row {
  path: string;
  audience: Audience | null;
  def: FieldDef;
}

function rowsOf(org: PolicyObject): Row[] {
  const rows: Row[] = [];
  for (const audience of ['internal', 'external'] as const) {
    const rules = (org[audience] ?? {}) as PolicyObject;
    for (const def of audienceFields)
      if (def.key in rules) rows.push({ path: `${audience}.${def.key}`, audience, def });
  }
  for (const def of generalFields)
    if (def.key in org) rows.push({ path: def.key, audience: null, def });
  return rows;
}

function valueAt(policy: PolicyObject | null | undefined, row: Row): Json | undefined {
  if (!policy) return undefined;
  if (row.audience === null) return policy[row.def.key];
  const rules = policy[row.audience];
  return rules && typeof rules === 'object' && !Array.isArray(rules)
    ? (rules as PolicyObject)[row.def.key]
    : undefined;
}

/**
 * Three columns: the org's policy, this project's override (each field
 * inherited unless "Override" is ticked), and the effective result.
 */
export function ProjectPolicyEditor({
  view,
  onSave,
  saving,
  error,
  readOnly = false,
}: {
  view: ProjectPolicyView;
  onSave: (override: PolicyObject) => void;
  saving: boolean;
  error: unknown;
  readOnly?: boolean;
}) {
  const rows = rowsOf(view.org);
  const [overridden, setOverridden] = useState<Record<string, boolean>>(() =>
    Object.fromEntries(rows.map((r) => [r.path, valueAt(view.project, r) !== undefined])),
  );
  const [drafts, setDrafts] = useState<Record<string, Draft>>(() =>
    Object.fromEntries(
      rows.map((r) => {
        const own = valueAt(view.project, r);
        return [r.path, toDraft(own !== undefined ? own : valueAt(view.org, r), r.def)];
      }),
    ),
  );
  const errors = policyFieldErrors(error);

  const build = (): PolicyObject => {
    const out: PolicyObject = {};
    for (const row of rows) {
      if (!overridden[row.path]) continue;
      const value = fromDraft(drafts[row.path] as Draft, row.def);
      if (row.audience === null) out[row.def.key] = value;
      else {
        const rules = (out[row.audience] ?? {}) as PolicyObject;
        rules[row.def.key] = value;
        out[row.audience] = rules;
      }
    }
    return out;
  };

  const groups: { title: string; rows: Row[] }[] = [
    { title: audienceNames.internal, rows: rows.filter((r) => r.audience === 'internal') },
    { title: audienceNames.external, rows: rows.filter((r) => r.audience === 'external') },
    { title: 'For everyone', rows: rows.filter((r) => r.audience === null) },
  ];

  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        onSave(build());
      }}
      aria-label="Project security policy"
    >
      <PolicyError error={error} />
      <p className="muted">
        A project may only tighten its org's policy. Tick "Override" to set a field here; the rest
        follow the org. The effective column is what applies, field by field the stricter of the
        two.
      </p>
      {groups.map((group) => (
        <fieldset className="fieldset" key={group.title}>
          <legend>{group.title}</legend>
          <div className="policy-grid">
            <div className="policy-cell policy-head">Setting</div>
            <div className="policy-cell policy-head">Org policy</div>
            <div className="policy-cell policy-head">This project's override</div>
            <div className="policy-cell policy-head">Effective</div>
            {group.rows.map((row) => {
              const label = `${row.audience ? `${row.audience === 'internal' ? 'Internal' : 'External'}: ` : ''}${row.def.label}`;
              const effective = valueAt(view.effective, row);
              const org = valueAt(view.org, row);
              const differs = JSON.stringify(effective) !== JSON.stringify(org);
              return (
                <RowCells
                  key={row.path}
                  label={row.def.label}
                  org={showValue(org, row.def)}
                  effective={showValue(effective, row.def)}
                  differs={differs}
                >
                  <Checkbox
                    label={`Override ${label}`}
                    checked={overridden[row.path] === true}
                    disabled={readOnly}
                    onChange={(e) => setOverridden((o) => ({ ...o, [row.path]: e.target.checked }))}
                  />
                  {overridden[row.path] ? (
                    <FieldInput
                      def={row.def}
                      label={`${label} for this project`}
                      value={drafts[row.path] as Draft}
                      onChange={(value) => setDrafts((d) => ({ ...d, [row.path]: value }))}
                      error={errors[row.path]}
                      disabled={readOnly}
                    />
                  ) : (
                    <>
                      <span className="muted">Follows the org</span>
                      {errors[row.path] ? <p className="field-error">{errors[row.path]}</p> : null}
                    </>
                  )}
                </RowCells>
              );
            })}
          </div>
        </fieldset>
      ))}
      {readOnly ? null : (
        <div className="btn-row">
          <Button type="submit" variant="primary" busy={saving}>
            Save project policy
          </Button>
          <span className="muted">You may be asked to confirm with your passkey.</span>
        </div>
      )}
    </form>
  );
}

function RowCells({
  label,
  org,
  effective,
  differs,
  children,
}: {
  label: string;
  org: string;
  effective: string;
  differs: boolean;
  children: ReactNode;
}) {
  return (
    <>
      <div className="policy-cell policy-label">{label}</div>
      <div className="policy-cell">
        <span className="cell-label">Org policy</span>
        {org}
      </div>
      <div className="policy-cell">{children}</div>
      <div className={`policy-cell${differs ? ' changed' : ''}`}>
        <span className="cell-label">Effective</span>
        {effective}
        {differs ? <span className="visually-hidden"> (tighter than the org)</span> : null}
      </div>
    </>
  );
}
