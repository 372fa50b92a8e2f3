import { InvalidOptionsError } from '@eventcore/core';
import { resolvePostgresOptions } from './postgres.options';
import { createPostgresStorage } from './postgres.storage';

const connectionString = 'postgres://app@127.0.0.1:6432/app';

describe('the pooler option', () => {
  it('turns named prepared statements off behind a transaction-mode pooler', () => {
    expect(resolvePostgresOptions({ connectionString })).toMatchObject({
      pooler: 'none',
      preparedStatements: true,
    });
    expect(resolvePostgresOptions({ connectionString, preparedStatements: false })).toMatchObject({
      preparedStatements: false,
    });
    expect(resolvePostgresOptions({ connectionString, pooler: 'transaction' })).toMatchObject({
      pooler: 'transaction',
      preparedStatements: false,
    });
  });

  it('refuses prepared statements with it, and unknown poolers', async () => {
    expect(() =>
      resolvePostgresOptions({ connectionString, pooler: 'transaction', preparedStatements: true }),
    ).toThrow(/preparedStatements/);
    expect(() => resolvePostgresOptions({ connectionString, pooler: 'session' as 'none' })).toThrow(
      InvalidOptionsError,
    );
    // Before any connection is made.
    await expect(
      createPostgresStorage({ connectionString, pooler: 'statement' as 'none' }),
    ).rejects.toThrow(/Invalid pooler: use 'transaction'/);
  });
});
