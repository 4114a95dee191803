import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DevLogSmsProvider } from './dev-log-provider.ts';

describe('DevLogSmsProvider', () => {
  it('refuses to send unless explicitly enabled, and logs nothing', async () => {
    const lines: string[] = [];
    const provider = new DevLogSmsProvider({ log: (m) => lines.push(m), enabled: false });
    await assert.rejects(provider.send('+15550100', '123456 is your code'), {
      message: 'the development SMS provider is disabled',
    });
    assert.deepEqual(lines, []);
  });

  it('when enabled, writes the message to the log', async () => {
    const lines: string[] = [];
    const provider = new DevLogSmsProvider({ log: (m) => lines.push(m), enabled: true });
    assert.equal(provider.name, 'dev-log');
    await provider.send('+15550100', '123456 is your code');
    assert.deepEqual(lines, ['SMS to +15550100: 123456 is your code']);
  });
});
