import { CliError, exitCodes, type TextOutput } from './context.ts';

/** The parts of `process.stdin` the prompt uses (a TTY stream or a pipe). */
export interface SecretInput {
  isTTY?: boolean;
  isRaw?: boolean;
  setRawMode?(mode: boolean): unknown;
  setEncoding(encoding: BufferEncoding): unknown;
  on(event: 'data', listener: (chunk: string | Buffer) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  off(event: 'data', listener: (chunk: string | Buffer) => void): unknown;
  off(event: 'end', listener: () => void): unknown;
  resume(): unknown;
  pause(): unknown;
}

export interface SecretPrompter {
  /** True when a person types at a terminal (so a retry makes sense). */
  readonly interactive: boolean;
  /** Asks for one secret, never echoing it. `what` names it in error messages. */
  ask(prompt: string, what: string): Promise<string>;
}

/** Longest line accepted from a pipe: well above any passphrase or share. */
const maxLineChars = 16 * 1024;

/**
 * Hidden input: on a terminal, raw mode without echo; from a pipe, one line
 * per question (so `printf 'pass\npass\n' | bulwark init` works).
 */
export function createPrompter(stdin: SecretInput, stderr: TextOutput): SecretPrompter {
  if (stdin.isTTY && typeof stdin.setRawMode === 'function') {
    return {
      interactive: true,
      ask: (prompt) => readHiddenFromTerminal(stdin, stderr, prompt),
    };
  }
  const lines = new LineReader(stdin);
  return {
    interactive: false,
    async ask(_prompt, what) {
      const line = await lines.next();
      if (line === null) {
        throw new CliError(
          `standard input ended before the ${what} was given (it is not a terminal, so one line per question is read from it)`,
        );
      }
      return line;
    },
  };
}

export class PromptCancelled extends CliError {
  constructor() {
    super('cancelled', exitCodes.cancelled);
  }
}

function readHiddenFromTerminal(
  stdin: SecretInput,
  stderr: TextOutput,
  prompt: string,
): Promise<string> {
  stderr.write(prompt);
  return new Promise((resolve, reject) => {
    const wasRaw = stdin.isRaw === true;
    let value = '';
    let inEscape = false;
    const finish = (result: Error | string): void => {
      stdin.off('data', onData);
      stdin.setRawMode?.(wasRaw);
      stdin.pause();
      stderr.write('\n');
      if (typeof result === 'string') resolve(result);
      else reject(result);
    };
    const onData = (chunk: string | Buffer): void => {
      for (const ch of String(chunk)) {
        // Skip terminal escape sequences (arrow keys and the like): ESC [ … final byte.
        if (inEscape) {
          if (ch >= '@' && ch <= '~' && ch !== '[') inEscape = false;
          continue;
        }
        switch (ch) {
          case '\r':
          case '\n':
            finish(value);
            return;
          case '\u0003': // Ctrl-C
            finish(new PromptCancelled());
            return;
          case '\u0004': // Ctrl-D: end of input on an empty line
            if (value === '') {
              finish(new PromptCancelled());
              return;
            }
            break;
          case '\u007f': // Backspace / Delete
          case '\b':
            value = Array.from(value).slice(0, -1).join('');
            break;
          case '\u0015': // Ctrl-U: erase the line
            value = '';
            break;
          case '\u001b':
            inEscape = true;
            break;
          default:
            if (ch >= ' ' && value.length < maxLineChars) value += ch;
        }
      }
    };
    stdin.setRawMode?.(true);
    stdin.setEncoding('utf8');
    stdin.on('data', onData);
    stdin.resume();
  });
}

/** Hands out stdin one line at a time; pauses stdin between questions so the process can exit. */
class LineReader {
  readonly #stdin: SecretInput;
  #buffer = '';
  #ended = false;
  #listening = false;
  #waiting: ((line: string | null) => void) | null = null;
  #failed: Error | null = null;

  constructor(stdin: SecretInput) {
    this.#stdin = stdin;
  }

  next(): Promise<string | null> {
    const ready = this.#take();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      this.#waiting = (line) => (this.#failed ? reject(this.#failed) : resolve(line));
      this.#listen();
    });
  }

  /** A complete line, null at the end of input, undefined when more must be read. */
  #take(): string | null | undefined {
    const newline = this.#buffer.indexOf('\n');
    if (newline >= 0) {
      const line = this.#buffer.slice(0, newline);
      this.#buffer = this.#buffer.slice(newline + 1);
      return line.endsWith('\r') ? line.slice(0, -1) : line;
    }
    if (!this.#ended) return undefined;
    if (this.#buffer === '') return null;
    const last = this.#buffer;
    this.#buffer = '';
    return last;
  }

  #listen(): void {
    if (!this.#listening) {
      this.#listening = true;
      this.#stdin.setEncoding('utf8');
      this.#stdin.on('data', this.#onData);
      this.#stdin.on('end', this.#onEnd);
    }
    this.#stdin.resume();
  }

  #deliver(): void {
    if (!this.#waiting) return;
    const line = this.#failed ? null : this.#take();
    if (line === undefined) return;
    const waiting = this.#waiting;
    this.#waiting = null;
    this.#stdin.pause();
    if (this.#ended) {
      this.#stdin.off('data', this.#onData);
      this.#stdin.off('end', this.#onEnd);
    }
    waiting(line);
  }

  readonly #onData = (chunk: string | Buffer): void => {
    this.#buffer += String(chunk);
    if (this.#buffer.length > maxLineChars && !this.#buffer.includes('\n')) {
      this.#failed = new CliError(
        `a line on standard input is longer than ${maxLineChars} characters`,
      );
      this.#buffer = '';
    }
    this.#deliver();
  };

  readonly #onEnd = (): void => {
    this.#ended = true;
    this.#deliver();
  };
}
