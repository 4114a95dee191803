// STUB — replaced by the helper that owns this screen.
export default function OrgPage(_props: { orgId: string; onChanged: () => void }) {
  return <p>OrgPage</p>;
}
