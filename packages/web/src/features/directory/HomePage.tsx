// STUB — replaced by the helper that owns this screen.
export default function HomePage() {
  return <p>HomePage</p>;
}
