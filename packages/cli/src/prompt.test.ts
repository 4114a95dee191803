import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { CliError } from './context.ts';
import { runCli } from './program.ts';
import { createPrompter, PromptCancelled } from './prompt.ts';
import { startFakeServer } from './test-support/fake-server.ts';

/** A terminal stand-in: records raw mode; `type` delivers keystrokes once a prompt is shown. */
class FakeTty extends EventEmitter {
  readonly isTTY = true;
  isRaw = false;
  readonly rawModes: boolean[] = [];
  setRawMode(mode: boolean): this {
    this.isRaw = mode;
    this.rawModes.push(mode);
    return this;
  }
  setEncoding(): this {
    return this;
  }
  resume(): this {
    return this;
  }
  pause(): this {
    return this;
  }
}

class Capture {
  text = '';
  onWrite: ((text: string) => void) | undefined;
  write(text: string): boolean {
    this.text += text;
    this.onWrite?.(text);
    return true;
  }
}

describe('hidden prompt on a terminal', () => {
  it('reads in raw mode without echo, with backspace and escape sequences handled', async () => {
    const tty = new FakeTty();
    const err = new Capture();
    const answer = createPrompter(tty, err).ask('Secret: ', 'secret');
    tty.emit('data', 's3cret\u007fT\u001b[D');
    tty.emit('data', '!\r');
    assert.equal(await answer, 's3creT!');
    assert.deepEqual(tty.rawModes, [true, false]);
    assert.equal(err.text, 'Secret: \n');
    assert.equal(tty.listenerCount('data'), 0);
  });

  it('Ctrl-C cancels with exit code 130 and restores the terminal', async () => {
    const tty = new FakeTty();
    const answer = createPrompter(tty, new Capture()).ask('Secret: ', 'secret');
    tty.emit('data', 'abc\u0003');
    await assert.rejects(
      answer,
      (e: unknown) => e instanceof PromptCancelled && e.exitCode === 130,
    );
    assert.equal(tty.isRaw, false);
  });
});

describe('secrets from a pipe', () => {
  it('reads one line per question and fails clearly at the end of input', async () => {
    const pipe = new PassThrough();
    const prompter = createPrompter(pipe, new Capture());
    pipe.end('first line\r\nsecond line\n');
    assert.equal(await prompter.ask('a', 'passphrase'), 'first line');
    assert.equal(await prompter.ask('b', 'repeated passphrase'), 'second line');
    await assert.rejects(prompter.ask('c', 'share'), (e: unknown) => {
      return e instanceof CliError && /standard input ended before the share/.test(e.message);
    });
  });

  it('gives a last line without a line break', async () => {
    const pipe = new PassThrough();
    const prompter = createPrompter(pipe, new Capture());
    const answer = prompter.ask('a', 'share');
    pipe.write('no newline');
    pipe.end();
    assert.equal(await answer, 'no newline');
  });
});

describe('runCli in-process', () => {
  it('runs init on a terminal: passphrase asked twice, never shown', async () => {
    const server = await startFakeServer();
    try {
      const tty = new FakeTty();
      const stdout = new Capture();
      const stderr = new Capture();
      const passphrase = 'typed on a terminal 123';
      // Type the answer when a prompt appears, as a person would.
      stderr.onWrite = (text) => {
        if (/passphrase.*: $/i.test(text)) setImmediate(() => tty.emit('data', `${passphrase}\r`));
      };
      const code = await runCli(['init'], {
        stdin: tty,
        stdout,
        stderr,
        env: { BULWARK_SERVER: server.url, BULWARK_CA: server.caFile },
        cwd: server.dir,
      });
      assert.equal(code, 0, stderr.text);
      assert.match(stderr.text, /New passphrase \(at least 12 characters, not shown\): \n/);
      assert.match(stderr.text, /Repeat the passphrase: \n/);
      assert.ok(!stderr.text.includes(passphrase) && !stdout.text.includes(passphrase));
      assert.deepEqual(tty.rawModes, [true, false, true, false]);
      assert.equal(server.status().state, 'unsealed');
    } finally {
      await server.close();
    }
  });
});
