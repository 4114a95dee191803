// STUB — replaced by the helper that owns this screen.
export default function SearchPage() {
  return <p>SearchPage</p>;
}
