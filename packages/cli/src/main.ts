import { runCli } from './program.ts';

// The process entry (bin/bulwark.js); tests and other callers use runCli.
process.exitCode = await runCli(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
});
