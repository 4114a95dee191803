// STUB
export function SignInScreen(_props: Record<string, unknown>) {
  return <p>SignInScreen</p>;
}
