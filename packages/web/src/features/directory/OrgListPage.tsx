// STUB — replaced by the helper that owns this screen.
export default function OrgListPage(_props: { onChanged: () => void }) {
  return <p>OrgListPage</p>;
}
