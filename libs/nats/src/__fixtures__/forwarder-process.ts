import { startForwarderApp } from './forwarder-app';

/*
 * A forwarder in a process of its own, for the crash test: forwards the database at argv[2] to
 * the stream argv[4] on NATS at argv[3], and prints its counts as a JSON line every 20 ms.
 */
async function main(): Promise<void> {
  const [databaseUrl, natsUrl, stream, subjectPrefix] = process.argv.slice(2) as [
    string,
    string,
    string,
    string,
  ];
  const { forwarder, registry } = await startForwarderApp(databaseUrl, {
    servers: natsUrl,
    stream,
    subjectPrefix,
    batchSize: 20,
    createStream: false,
  });
  setInterval(() => {
    const status = registry.get('nats-forwarder');
    console.log(
      JSON.stringify({ ...forwarder.stats(), state: status.state, handled: status.handledEvents }),
    );
  }, 20).unref();
  await new Promise(() => undefined);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
