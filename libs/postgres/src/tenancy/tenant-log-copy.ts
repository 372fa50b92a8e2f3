import { setTimeout as sleep } from 'node:timers/promises';
import {
  type CheckpointStore,
  type EventToAppend,
  ExpectedVersion,
  type Position,
  type RecordedEvent,
  type StreamId,
  type StreamWrite,
} from '@eventcore/core';
import { UNSTREAMED_PREFIX } from '@eventcore/core/adapter';
import { decodePosition } from '../position';
import type { PostgresEventStore } from '../postgres.event-store';
import { PostgresStoreInspection } from '../inspection/postgres.inspection';
import { quoted } from '../schema/schema-name';

/** Events per append on the target: large enough to amortize a round trip, small enough to retry. */
const BATCH = 500;
const PAGE = 1_000;
/** Pause while another transaction on the source server holds the log's horizon back. */
const HELD_BACK_PAUSE_MS = 50;

/** What {@link copyTenantLog} did. */
export interface TenantLogCopy {
  /** Events appended to the target. */
  readonly events: number;
  /** Global position of the source's last event (0 for an empty log). */
  readonly sourceHead: number;
  /** Position of the target's last imported event; `undefined` for an empty log. */
  readonly targetHead: Position | undefined;
  /** Each projection's checkpoint on the target (`null`: from the beginning). */
  readonly checkpoints: Readonly<Record<string, Position | null>>;
  /** Streams archived on the source, archived again on the target. */
  readonly archivedStreams: number;
}

/** One checkpoint to translate: its source global position, and its target position so far. */
interface Checkpoint {
  readonly name: string;
  readonly at: bigint;
  target: Position | null;
}

/**
 * Copies a frozen tenant log (no writer left on `source`) into an empty `target` by appending
 * every event anew in the source's log order, keeping ids, streams, versions, types, data,
 * metadata, tags, schema versions, encodings and occurred-at times; the target assigns positions
 * (and recorded-at times) of its own. Then sets each named projection's checkpoint on the target
 * to the target position of the last event at or before its source checkpoint. `beforeAppending`
 * gets the source's last global position before anything is appended.
 *
 * Source positions are compared by global position: every append takes its transaction id and its
 * positions together, so the log order and the global position order agree, and a checkpoint is
 * always the position of an event (or the start). Batches end at every checkpoint, so that the
 * append's returned position is exactly the position a checkpoint translates to.
 *
 * Streams archived on the source are archived on the target last, after the checkpoints, so that
 * they stay closed to writes there too (archiving checks the checkpoints the target holds).
 * @throws Error when the source log is held back longer than `heldBackTimeoutMs`
 * @throws ArchiveRefusedError when a projection's checkpoint on the target is behind a stream
 *   archived on the source; nothing is switched, and the move can be retried once it has caught up
 */
export async function copyTenantLog(
  source: { store: PostgresEventStore; checkpoints: CheckpointStore },
  target: { store: PostgresEventStore; checkpoints: CheckpointStore },
  projections: readonly string[],
  heldBackTimeoutMs: number,
  beforeAppending: (sourceHead: number) => Promise<void>,
): Promise<TenantLogCopy> {
  const head = (await new PostgresStoreInspection(source.store).head()).globalPosition;
  await beforeAppending(head);
  const sourceHead = BigInt(head);
  const checkpoints: Checkpoint[] = [];
  for (const name of projections) {
    const saved = await source.checkpoints.load(name);
    const at = saved === undefined ? 0n : BigInt(decodePosition(saved).globalPosition);
    if (at > 0n) checkpoints.push({ name, at, target: null });
  }
  let batch: RecordedEvent[] = [];
  let copied = 0;
  let targetHead: Position | undefined;
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const { position } = await target.store.append(...appendOf(batch));
    const last = BigInt(batch[batch.length - 1]!.globalPosition);
    for (const checkpoint of checkpoints) if (checkpoint.at >= last) checkpoint.target = position;
    copied += batch.length;
    targetHead = position;
    batch = [];
  };
  let after: Position | undefined;
  let seen = 0n;
  let heldBackSince: number | undefined;
  while (seen < sourceHead) {
    const page = await source.store.readAll({ after, limit: PAGE });
    after = page.next;
    for (const event of page.events) {
      if (mustCut(batch, event, checkpoints)) await flush();
      batch.push(event);
      seen = BigInt(event.globalPosition);
    }
    if (page.events.length > 0) {
      heldBackSince = undefined;
    } else if (page.isEnd && seen < sourceHead) {
      // Committed but past the server-wide horizon: another transaction on the server is open.
      heldBackSince ??= Date.now();
      if (Date.now() - heldBackSince > heldBackTimeoutMs) {
        throw new Error(
          `the source log stayed held back for ${heldBackTimeoutMs} ms at global position ${seen} of ${sourceHead} by an open transaction on its server (see logHoldBack()); nothing was switched`,
        );
      }
      await sleep(HELD_BACK_PAUSE_MS);
    }
  }
  await flush();
  const translated: Record<string, Position | null> = {};
  for (const name of projections) translated[name] = null;
  for (const checkpoint of checkpoints) {
    translated[checkpoint.name] = checkpoint.target;
    const to = checkpoint.target;
    if (to !== null)
      await target.checkpoints.commit(checkpoint.name, undefined, to, async () => {});
  }
  const archived = await archivedStreams(source.store);
  for (const id of archived) await target.store.archiveStream(id);
  return {
    events: copied,
    sourceHead: Number(sourceHead),
    targetHead,
    checkpoints: translated,
    archivedStreams: archived.length,
  };
}

/** The streams `store` has archived (schema version 8), in id order. */
async function archivedStreams(store: PostgresEventStore): Promise<StreamId[]> {
  const rows = await store.sqlExecutor.query<{ stream_id: StreamId }>(
    `SELECT stream_id FROM ${quoted(store.schema)}.streams WHERE archived_at IS NOT NULL ORDER BY stream_id`,
  );
  return rows.map((row) => row.stream_id);
}

/**
 * Whether `event` must start a new append: the batch is full; a checkpoint lies between the
 * batch's last event and this one; or the order could not be kept in one append, which writes
 * each stream's events together, stream by stream, and stream-less events after all of them.
 */
function mustCut(batch: RecordedEvent[], event: RecordedEvent, checkpoints: Checkpoint[]): boolean {
  const last = batch[batch.length - 1];
  if (last === undefined) return false;
  if (batch.length >= BATCH) return true;
  const lastAt = BigInt(last.globalPosition);
  const at = BigInt(event.globalPosition);
  if (checkpoints.some((c) => c.at >= lastAt && c.at < at)) return true;
  const unstreamed = event.streamId.startsWith(UNSTREAMED_PREFIX);
  if (last.streamId.startsWith(UNSTREAMED_PREFIX)) return !unstreamed;
  if (unstreamed || last.streamId === event.streamId) return false;
  return batch.some((e) => e.streamId === event.streamId);
}

/** The append that writes `batch` again, in its order, each stream at its recorded versions. */
function appendOf(batch: readonly RecordedEvent[]): [StreamWrite[], { events?: EventToAppend[] }] {
  const writes: {
    streamId: RecordedEvent['streamId'];
    expected: ExpectedVersion;
    events: EventToAppend[];
  }[] = [];
  const unstreamed: EventToAppend[] = [];
  for (const event of batch) {
    if (event.streamId.startsWith(UNSTREAMED_PREFIX)) {
      unstreamed.push(toAppend(event));
      continue;
    }
    const write = writes[writes.length - 1];
    if (write?.streamId === event.streamId) {
      write.events.push(toAppend(event));
    } else {
      writes.push({
        streamId: event.streamId,
        expected: ExpectedVersion.exact(event.streamVersion - 1),
        events: [toAppend(event)],
      });
    }
  }
  return [writes, unstreamed.length === 0 ? {} : { events: unstreamed }];
}

function toAppend(event: RecordedEvent): EventToAppend {
  return {
    id: event.id,
    type: event.type,
    data: event.data,
    metadata: event.metadata,
    occurredAt: event.occurredAt,
    schemaVersion: event.schemaVersion,
    ...(event.encoding === undefined ? {} : { encoding: event.encoding }),
    ...(event.tags.length === 0 ? {} : { tags: event.tags }),
  };
}
