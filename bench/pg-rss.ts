import 'reflect-metadata';
import { CommandExecutor } from '@eventcore/core';
import { createPostgresEventStore } from '@eventcore/postgres';
import { createTestDatabase } from '@eventcore/postgres/testing';
import { runConcurrently } from './harness';
import { accountStream, Deposit, openAccounts, TransferMoney } from './accounts';

/**
 * Peak memory of the 16-client PostgreSQL run, in a process of its own so that nothing else the
 * bench did inflates it: 16 clients run single-stream commands and then transfers (state cache on,
 * as in the scenarios) while RSS is sampled every 10 ms. Prints `{"peakRssMB": n, "commands": n}`.
 */
async function main(): Promise<void> {
  const commands = process.argv.includes('--quick') ? 2_000 : 8_000;
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10);
  const database = await createTestDatabase();
  const store = await createPostgresEventStore({
    connectionString: database.url,
    poolSize: 40,
    schema: 'bench',
  });
  try {
    const executor = new CommandExecutor(store, { stateCache: { maxEntries: 100_000 } });
    const stream = (client: number, i: number) => accountStream(`rss-${client}-${i % 25}`);
    const perClient = Math.ceil(commands / 16);
    // The bank's commands need open accounts, funded for the transfers.
    const accounts = Array.from({ length: 16 * 25 }, (_, k) => stream(Math.floor(k / 25), k));
    await openAccounts(store, accounts, 1_000_000);
    await runConcurrently(16, 16, async (client) => {
      for (let i = 0; i < perClient; i++) {
        await executor.execute(new Deposit(stream(client, i), 1));
      }
      for (let i = 0; i < perClient; i++) {
        await executor.execute(
          new TransferMoney(stream(client, 2 * i), stream(client, 2 * i + 1), 1),
        );
      }
    });
  } finally {
    await store.close();
    await database.drop();
    clearInterval(timer);
  }
  peak = Math.max(peak, process.memoryUsage.rss(), process.resourceUsage().maxRSS * 1024);
  process.stdout.write(
    `${JSON.stringify({ peakRssMB: Math.round((peak / 2 ** 20) * 10) / 10, commands: 2 * perClientTotal(commands) })}\n`,
  );
}

function perClientTotal(commands: number): number {
  return Math.ceil(commands / 16) * 16;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
