/**
 * @eventcore/postgres/testing — helpers for testing apps and adapters on PostgreSQL: throw-away
 * databases on a server, and PGlite under jest. Kept off the main entry point so production code
 * never pulls in jest.
 */
export {
  ADMIN_URL,
  serverReachable,
  describeWithServer,
  createTestDatabase,
  type TestDatabase,
} from './test-database';
export { loadPGlite } from './pglite.testing';
