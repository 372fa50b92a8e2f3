import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ErrorCodes,
  ExpectedVersion,
  type Position,
  type RecordedEvent,
  streamId,
} from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import { createPostgresEventStore } from './postgres.factory';
import type { PostgresEventStore } from './postgres.event-store';
import { createTestDatabase, describeWithServer, type TestDatabase } from './testing/test-database';

/**
 * The restore procedure of docs/operations.md ("Logical backups"), run for real: dump a database of
 * this server (whose transaction ids are far ahead of a new cluster's), restore it into a freshly
 * initialised temporary cluster, see the store refuse it, apply the `pg_resetwal --epoch` step, and
 * check that every event is readable in its original order, an old checkpoint resumes, and new
 * events come after the old ones.
 */
const BIN = '/usr/lib/postgresql/15/bin';
const canRun =
  process.getuid?.() === 0 && existsSync(`${BIN}/initdb`) && existsSync(`${BIN}/pg_resetwal`);

const asPostgres = (command: string, args: string[]) =>
  execFileSync('runuser', ['-u', 'postgres', '--', `${BIN}/${command}`, ...args], {
    stdio: 'pipe',
    timeout: 60_000,
  });

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** A throwaway PostgreSQL cluster in a temporary folder, on its own port. */
class TemporaryCluster {
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  static async create(): Promise<TemporaryCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'eventcore-restore-'));
    execFileSync('chown', ['postgres:postgres', dir]);
    asPostgres('initdb', ['-D', dir, '-A', 'trust', '-U', 'postgres']);
    const cluster = new TemporaryCluster(dir, await freePort());
    cluster.start();
    return cluster;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/restored`;
  }

  start(): void {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
    asPostgres('pg_ctl', [
      '-D',
      this.dir,
      '-o',
      options,
      '-l',
      join(this.dir, 'server.log'),
      '-w',
      'start',
    ]);
  }

  stop(): void {
    asPostgres('pg_ctl', ['-D', this.dir, '-m', 'fast', '-w', 'stop']);
  }

  destroy(): void {
    try {
      this.stop();
    } catch {
      // already stopped
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function readEverything(
  store: PostgresEventStore,
  after?: Position,
): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  let page = await store.readAll({ after, limit: 1000 });
  events.push(...page.events);
  while (!page.isEnd) {
    page = await store.readAll({ after: page.next, limit: 1000 });
    events.push(...page.events);
  }
  return events;
}

const suite = canRun
  ? describeWithServer
  : (name: string, body: () => void) => {
      console.warn(`${name}: SKIPPED (needs root, ${BIN}/initdb and pg_resetwal)`);
      describe.skip(`${name} [SKIPPED: needs root and the PostgreSQL 15 server binaries]`, body);
    };

suite('restoring a logical backup into a new cluster', () => {
  let source: TestDatabase;
  let cluster: TemporaryCluster | undefined;

  beforeAll(async () => {
    source = await createTestDatabase();
  });

  afterAll(async () => {
    cluster?.destroy();
    await source.drop();
  });

  it('refuses the restored log until the epoch step, then reads it whole and in order', async () => {
    // 1. A log with a subscriber checkpoint half-way, on this server.
    const original = await createPostgresEventStore({ connectionString: source.url });
    for (let i = 0; i < 30; i++) {
      await original.append([
        {
          streamId: streamId(`account-${i % 3}`),
          expected: ExpectedVersion.any,
          events: [testEvent('Deposited', { i })],
        },
      ]);
    }
    const before = await readEverything(original);
    const checkpoint = (await original.readAll({ limit: 12 })).next;
    await original.close();

    // 2. pg_dump, a new cluster, pg_restore.
    const dump = join(tmpdir(), `eventcore-${process.pid}.dump`);
    execFileSync(`${BIN}/pg_dump`, ['--format=custom', `--file=${dump}`, source.url], {
      stdio: 'pipe',
    });
    cluster = await TemporaryCluster.create();
    execFileSync(`${BIN}/createdb`, [
      '-h',
      '127.0.0.1',
      '-p',
      String(cluster.port),
      '-U',
      'postgres',
      'restored',
    ]);
    execFileSync(`${BIN}/pg_restore`, ['--no-owner', `--dbname=${cluster.url}`, dump], {
      stdio: 'pipe',
    });
    rmSync(dump, { force: true });

    // 3. The store refuses it, naming the epoch to move past.
    const refused = await createPostgresEventStore({ connectionString: cluster.url }).catch(
      (e: unknown) => e,
    );
    expect(refused).toMatchObject({ code: ErrorCodes.storeUnavailable });
    const epoch = /pg_resetwal --epoch=(\d+)/.exec((refused as Error).message)?.[1];
    expect(epoch).toBeDefined();

    // 4. The documented step: stop, move the epoch forward, start.
    cluster.stop();
    asPostgres('pg_resetwal', [`--epoch=${epoch}`, cluster.dir]);
    cluster.start();

    // 5. Every event, in the original order; the old checkpoint resumes; new events come last.
    const restored = await createPostgresEventStore({ connectionString: cluster.url });
    try {
      const after = await readEverything(restored);
      expect(after.map((e) => e.id)).toEqual(before.map((e) => e.id));
      const resumed = await readEverything(restored, checkpoint);
      expect(resumed.map((e) => e.id)).toEqual(before.slice(12).map((e) => e.id));
      const fresh = testEvent('Deposited', { i: 'new' });
      await restored.append([
        { streamId: streamId('account-0'), expected: ExpectedVersion.exact(10), events: [fresh] },
      ]);
      const last = (await readEverything(restored, before.length > 0 ? checkpoint : undefined)).at(
        -1,
      );
      expect(last?.id).toBe(fresh.id);
      expect(last?.streamVersion).toBe(11);
    } finally {
      await restored.close();
    }
  });
});
