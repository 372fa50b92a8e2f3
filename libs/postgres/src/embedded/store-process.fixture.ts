/*
 * A process that opens an embedded store, for the lock tests (run with `spawnTs`). Usage:
 * `store-process.fixture.ts <store|storage|opener|lock> <dataDir>`; it prints `{"event":"ready"}`, opens
 * the database when it reads `{"cmd":"open"}` on stdin (so several processes can be released at
 * once), then answers commands, one JSON object per line:
 * `{"cmd":"append","stream":"s","count":2}`, `{"cmd":"read","stream":"s"}`, `{"cmd":"close"}`, and
 * `{"cmd":"exit"}` (exit without closing).
 * Every answer is one JSON line on stdout; a refused open prints `{"event":"refused",...}`.
 */
import { ExpectedVersion, isEventCoreError, type EventStore, streamId } from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import { createInterface } from 'node:readline';
import { createPGliteEventStore, openPGlite } from '../postgres.factory';
import { createPostgresStorage } from '../postgres.storage';
import { lockEmbeddedDirectory } from './directory-lock';

type Mode = 'store' | 'storage' | 'opener' | 'lock';

interface Opened {
  /** Absent in `lock` mode, which takes the folder's lock alone (no PGlite: fast, for races). */
  readonly store?: EventStore;
  close(): Promise<void>;
}

async function open(mode: Mode, dataDir: string): Promise<Opened> {
  switch (mode) {
    case 'store': {
      const store = await createPGliteEventStore({ dataDir });
      return { store, close: () => store.close() };
    }
    case 'storage': {
      const storage = await createPostgresStorage({ dataDir });
      return { store: storage.eventStore, close: () => storage.close() };
    }
    case 'lock': {
      const lock = lockEmbeddedDirectory(dataDir);
      return { close: async () => lock.release() };
    }
    case 'opener': {
      // The lower-level path: the app opens PGlite itself and hands it to the store.
      const db = await openPGlite(dataDir);
      const store = await createPGliteEventStore({ db });
      return {
        store,
        close: async () => {
          await store.close();
          await db.close();
        },
      };
    }
  }
}

function say(message: object): void {
  process.stdout.write(`${JSON.stringify({ pid: process.pid, ...message })}\n`);
}

async function main(): Promise<void> {
  const [mode, dataDir] = process.argv.slice(2) as [Mode, string];
  let opened: Opened | undefined;
  say({ event: 'ready' });
  for await (const line of createInterface({ input: process.stdin })) {
    const command = JSON.parse(line) as { cmd: string; stream?: string; count?: number };
    if (command.cmd === 'open') {
      try {
        opened = await open(mode, dataDir);
        say({ event: 'opened' });
      } catch (error) {
        if (!isEventCoreError(error)) throw error;
        say({ event: 'refused', code: error.code, message: error.message, error });
        process.exit(2);
      }
    } else if (command.cmd === 'append') {
      const result = await opened!.store!.append([
        {
          streamId: streamId(command.stream!),
          expected: ExpectedVersion.any,
          events: Array.from({ length: command.count ?? 1 }, (_, i) =>
            testEvent('Written', { by: process.pid, i }),
          ),
        },
      ]);
      say({ event: 'appended', events: result.events });
    } else if (command.cmd === 'read') {
      const read = await opened!.store!.readStreams([streamId(command.stream!)]);
      say({ event: 'read', events: read.events });
    } else if (command.cmd === 'exit') {
      // Ends without closing anything, as an app's fatal error handler does.
      process.exit(0);
    } else if (command.cmd === 'close') {
      await opened?.close();
      say({ event: 'closed' });
      process.exit(0);
    }
  }
}

main().catch((error: unknown) => {
  say({ event: 'crashed', message: String((error as Error)?.stack ?? error) });
  process.exit(1);
});
