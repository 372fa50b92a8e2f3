import { StoreUnavailableError } from '@eventcore/core';
import { createServer, type Server, type Socket } from 'node:net';
import { createPostgresEventStore } from './postgres.factory';

// No server needed: these tests are about a database that is not there.
describe('PostgresEventStore with an unreachable database', () => {
  it('fails to start with StoreUnavailableError when nothing listens on the port', async () => {
    const error = await createPostgresEventStore({
      connectionString: 'postgres://postgres@127.0.0.1:1/nowhere',
      connectTimeoutMs: 1000,
      retry: { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 10 },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as StoreUnavailableError).message).toContain('ECONNREFUSED');
    expect(error).toMatchObject({ outcome: 'not-written' });
  });

  it('opens the circuit on a real refused port and then fails fast', async () => {
    const store = await createPostgresEventStore({
      connectionString: 'postgres://postgres@127.0.0.1:1/nowhere',
      migrate: false,
      retry: false,
      circuitBreaker: { failureThreshold: 2, cooldownMs: 60_000 },
    });
    try {
      await expect(store.ping()).rejects.toMatchObject({ circuitOpen: false });
      await expect(store.ping()).rejects.toMatchObject({ circuitOpen: true });
      await expect(store.readAll({ limit: 10 })).rejects.toMatchObject({
        code: 'eventcore.store_unavailable',
        circuitOpen: true,
      });
    } finally {
      await store.close();
    }
  });

  describe('a server that accepts connections but never answers', () => {
    let server: Server;
    const sockets: Socket[] = [];
    let port = 0;

    beforeAll(async () => {
      server = createServer((socket) => sockets.push(socket)); // swallow everything
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as { port: number }).port;
    });

    afterAll(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    });

    it('gives up after connectTimeoutMs with StoreUnavailableError instead of hanging', async () => {
      const error = await createPostgresEventStore({
        connectionString: `postgres://postgres@127.0.0.1:${port}/silent`,
        connectTimeoutMs: 300,
        retry: false,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as StoreUnavailableError).message).toMatch(/timeout/i);
    });
  });
});
