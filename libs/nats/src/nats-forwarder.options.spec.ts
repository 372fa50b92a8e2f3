import { InvalidOptionsError } from '@eventcore/core';
import { EventCoreNatsModule } from './eventcore-nats.module';
import { type NatsForwarderOptions, resolveForwarderOptions } from './nats-forwarder.options';

const valid: NatsForwarderOptions = { servers: 'nats://127.0.0.1:4222', stream: 'BANK' };

describe('NATS forwarder options', () => {
  it('applies the documented defaults', () => {
    expect(resolveForwarderOptions(valid)).toMatchObject({
      servers: ['nats://127.0.0.1:4222'],
      stream: 'BANK',
      subjectPrefix: 'eventcore',
      name: 'nats-forwarder',
      batchSize: 100,
      createStream: true,
      duplicateWindowMs: 120_000,
      timeoutMs: 5_000,
      retry: { initialDelayMs: 200, maxDelayMs: 10_000, backoffFactor: 2, jitter: 0.2 },
    });
    expect(resolveForwarderOptions(valid).tenant({} as never)).toBe('default');
  });

  it.each<[string, Partial<Record<keyof NatsForwarderOptions, unknown>>, RegExp]>([
    ['no servers', { servers: [] }, /servers/],
    ['a server with spaces', { servers: ' nats://x ' }, /servers/],
    ['a stream name with a dot', { stream: 'a.b' }, /stream.*letters, digits/],
    ['a prefix with a wildcard', { subjectPrefix: 'events.*' }, /subjectPrefix/],
    ['an empty prefix token', { subjectPrefix: 'events..x' }, /subjectPrefix/],
    ['a projection name with a space', { name: 'my forwarder' }, /name/],
    ['a tenant that is not a function', { tenant: 'acme' }, /tenant/],
    ['a batch of 0', { batchSize: 0 }, /batchSize.*from 1 to 10000/],
    ['a window under a second', { duplicateWindowMs: 10 }, /duplicateWindowMs/],
    ['a negative retry delay', { retry: { initialDelayMs: -1 } }, /retry\.initialDelayMs/],
    ['createStream as text', { createStream: 'yes' }, /createStream/],
  ])('refuses %s, saying what to give', (_, change, message) => {
    const options = { ...valid, ...change } as NatsForwarderOptions;
    expect(() => resolveForwarderOptions(options)).toThrow(InvalidOptionsError);
    expect(() => resolveForwarderOptions(options)).toThrow(message);
    expect(() => EventCoreNatsModule.forRoot(options)).toThrow(InvalidOptionsError);
  });
});
