import { startPostgresServer } from './postgres-server';

/*
 * Starts a private server and then stays alive doing nothing, for test/postgres-server.e2e-spec.ts
 * to SIGKILL: prints `{"port":<port>,"directory":"<dir>"}` once the server accepts connections.
 */
startPostgresServer().then(
  (server) => {
    console.log(JSON.stringify({ port: server.port, directory: server.directory }));
    setInterval(() => undefined, 60_000);
  },
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
