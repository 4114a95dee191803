// STUB — replaced by the helper that owns this screen.
export default function AccountPage(_props: { tab?: string | undefined }) {
  return <p>AccountPage</p>;
}
