/**
 * What will unseal the server — a passphrase, Shamir key shares, or both —
 * chosen at init and again at rekey: one set of fields, one body for
 * `/v1/sys/init` and `/v1/sys/rekey`'s `next`.
 */
import { Checkbox, TextField } from '../../ui/components.tsx';

export interface UnsealMaterial {
  usePassphrase: boolean;
  passphrase: string;
  confirm: string;
  useShares: boolean;
  count: string;
  threshold: string;
}

export const initialUnsealMaterial: UnsealMaterial = {
  usePassphrase: true,
  passphrase: '',
  confirm: '',
  useShares: false,
  count: '3',
  threshold: '2',
};

/** Why the material cannot be sent yet, in words for the person (null when it can). */
export function unsealMaterialProblem(m: UnsealMaterial): string | null {
  if (!m.usePassphrase && !m.useShares) return 'Choose a passphrase, key shares, or both.';
  if (m.usePassphrase && m.confirm !== '' && m.confirm !== m.passphrase)
    return 'The two passphrases differ.';
  return null;
}

/** The request body the server expects: `{passphrase?, shares?: {count, threshold}}`. */
export function unsealMaterialBody(m: UnsealMaterial): {
  passphrase?: string;
  shares?: { count: number; threshold: number };
} {
  return {
    ...(m.usePassphrase ? { passphrase: m.passphrase } : {}),
    ...(m.useShares ? { shares: { count: Number(m.count), threshold: Number(m.threshold) } } : {}),
  };
}

export function UnsealMaterialFields({
  value,
  onChange,
  labels = { passphrase: 'Passphrase', confirm: 'Passphrase again' },
}: {
  value: UnsealMaterial;
  onChange: (next: UnsealMaterial) => void;
  labels?: { passphrase: string; confirm: string };
}) {
  const set = (change: Partial<UnsealMaterial>) => onChange({ ...value, ...change });
  const mismatch =
    value.usePassphrase && value.confirm !== '' && value.confirm !== value.passphrase;
  return (
    <>
      <Checkbox
        label="A passphrase"
        checked={value.usePassphrase}
        onChange={(e) => set({ usePassphrase: e.target.checked })}
      />
      {value.usePassphrase ? (
        <div className="form-grid">
          <TextField
            label={labels.passphrase}
            type="password"
            autoComplete="new-password"
            minLength={12}
            hint="At least 12 characters; a few random words are good."
            value={value.passphrase}
            onChange={(e) => set({ passphrase: e.target.value })}
            required
          />
          <TextField
            label={labels.confirm}
            type="password"
            autoComplete="new-password"
            value={value.confirm}
            error={mismatch ? 'The two passphrases differ.' : null}
            onChange={(e) => set({ confirm: e.target.value })}
            required
          />
        </div>
      ) : null}
      <Checkbox
        label="Key shares for several operators (Shamir)"
        checked={value.useShares}
        onChange={(e) => set({ useShares: e.target.checked })}
      />
      {value.useShares ? (
        <div className="form-grid">
          <TextField
            label="Number of shares"
            type="number"
            min={2}
            max={255}
            value={value.count}
            onChange={(e) => set({ count: e.target.value })}
          />
          <TextField
            label="Shares needed to unseal"
            type="number"
            min={2}
            max={Number(value.count) || 255}
            value={value.threshold}
            onChange={(e) => set({ threshold: e.target.value })}
          />
        </div>
      ) : null}
    </>
  );
}
