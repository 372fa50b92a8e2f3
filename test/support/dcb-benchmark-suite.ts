/**
 * The three checks of the dcb.events k6 suite (github.com/dcb-events, `dcb-consistency.ts`,
 * `dcb-monotonic.ts`, `dcb-parallel-writes.ts`), ported to Node so that they run in this
 * repository's tests (k6 is not installable here). The client speaks HTTP exactly as the suite's
 * default adapter (`adapters/http_default.js`) does, and the fixture builds queries and events as
 * the suite's `lib/fixture.ts` does, with a seeded random source instead of `Math.random`. Each
 * check returns what it saw; the specs assert on it. Where a check here is stricter than the
 * suite's, its comment says how.
 */
import { seededRandom } from '@eventcore/core/testing';

/** A query as the protocol sends it. */
export interface Query {
  items: { types?: string[]; tags?: string[] }[];
}

/** An event as the protocol appends it. */
export interface ProtocolEvent {
  type: string;
  tags: string[];
  data: string;
}

/** An event as `GET /read` answers it. */
export interface SequencedEvent extends ProtocolEvent {
  position: number;
}

export interface ReadOptions {
  from?: number;
  limit?: number;
  backwards?: boolean;
}

export interface AppendCondition {
  failIfEventsMatch: Query;
  after?: number;
}

export interface AppendResponse {
  durationInMicroseconds: number;
  appendConditionFailed: boolean;
}

/** The suite's `EventStore` adapter interface, asynchronous. */
export interface DcbApi {
  read(query: Query, options?: ReadOptions): Promise<SequencedEvent[]>;
  readLastEvent(query: Query): Promise<SequencedEvent | null>;
  append(events: ProtocolEvent[], condition?: AppendCondition): Promise<AppendResponse>;
}

/** `adapters/http_default.js`: the same URLs, bodies, headers and response checks. */
export function httpDefaultAdapter(baseUri: string): DcbApi {
  return {
    async read(query, options) {
      let url = `${baseUri}/read?query=${encodeURIComponent(JSON.stringify(query))}`;
      if (options !== undefined) {
        url += `&options=${encodeURIComponent(JSON.stringify(options))}`;
      }
      const response = await fetch(url);
      const body = await response.text();
      if (response.status !== 200) {
        throw new Error(`Failed to read events: ${response.status} ${body}`);
      }
      const responseData = JSON.parse(body) as unknown;
      if (
        !Array.isArray(responseData) ||
        !responseData.every(
          (event: Record<string, unknown>) =>
            typeof event === 'object' &&
            typeof event.type === 'string' &&
            Array.isArray(event.tags) &&
            typeof event.position === 'number',
        )
      ) {
        throw new Error(`Invalid response data: ${body}`);
      }
      return responseData as SequencedEvent[];
    },
    async readLastEvent(query) {
      const events = await this.read(query, { backwards: true, limit: 1 });
      return events[0] ?? null;
    },
    async append(events, condition) {
      const response = await fetch(`${baseUri}/append`, {
        method: 'POST',
        body: JSON.stringify({ events, condition }),
        headers: { 'Content-Type': 'application/json' },
      });
      const body = await response.text();
      if (response.status !== 200) {
        throw new Error(`Failed to append events: ${response.status} ${body}`);
      }
      const responseData = JSON.parse(body) as Partial<AppendResponse> | null;
      if (
        !responseData ||
        typeof responseData !== 'object' ||
        typeof responseData.durationInMicroseconds !== 'number' ||
        typeof responseData.appendConditionFailed !== 'boolean'
      ) {
        throw new Error(`Invalid response data: ${body}`);
      }
      return responseData as AppendResponse;
    },
  };
}

interface Range {
  min: number;
  max: number;
}

/** `DcbOptions` of the suite: the variety of types, tags and queries. */
export interface DcbOptions {
  numberOfEventTypes: number;
  numberOfTags: number;
  numberOfItemsPerQuery: Range;
  eventTypesPerQueryItem: Range;
  tagsPerQueryItem: Range;
  eventsPerAppend: Range;
}

/** What the first event of each batch carries in its data (the suite's, plus `appendId`). */
interface BatchHead {
  batchIndex: 0;
  batchSize: number;
  query: Query;
  lastMatchingEventPosition: number;
  appendId: string;
}

/** `lib/fixture.ts` and `lib/helpers.ts`, drawing from `random`. */
export function fixtureBuilder(options: DcbOptions, random: () => number) {
  const generateStrings = (prefix: string, n: number) =>
    Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
  const either = <T>(array: T[]): T => array[Math.floor(random() * array.length)]!;
  // A Fisher–Yates shuffle: the suite's sort by a random comparator, without its bias.
  const some = <T>(array: T[], n: number): T[] => {
    const copy = [...array];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    return copy.slice(0, n);
  };
  const between = (range: Range) => Math.floor(random() * (range.max - range.min + 1)) + range.min;
  const eventTypes = generateStrings('eventType', options.numberOfEventTypes);
  const tags = generateStrings('tag', options.numberOfTags);
  return {
    createQuery(): Query {
      return {
        items: Array.from({ length: between(options.numberOfItemsPerQuery) }, () => {
          let eventTypesCount = between(options.eventTypesPerQueryItem);
          let tagsCount = between(options.tagsPerQueryItem);
          if (eventTypesCount === 0 && tagsCount === 0) {
            eventTypesCount = between(options.eventTypesPerQueryItem) || 1;
            tagsCount = between(options.tagsPerQueryItem) || 1;
          }
          const queryItem: { types?: string[]; tags?: string[] } = {};
          if (eventTypesCount > 0) queryItem.types = some(eventTypes, eventTypesCount);
          if (tagsCount > 0) queryItem.tags = some(tags, tagsCount);
          return queryItem;
        }),
      };
    },
    createEvents(query: Query, lastMatchingEventPosition: number, appendId: string) {
      const numberOfEventsInBatch = between(options.eventsPerAppend);
      return Array.from({ length: numberOfEventsInBatch }, (_, i): ProtocolEvent => {
        const data =
          i === 0
            ? {
                batchIndex: 0,
                batchSize: numberOfEventsInBatch,
                query,
                lastMatchingEventPosition,
                appendId,
              }
            : { batchIndex: i, batchSize: numberOfEventsInBatch, appendId };
        return {
          type: either(eventTypes),
          tags: some(tags, between(options.tagsPerQueryItem)),
          data: JSON.stringify(data),
        };
      });
    },
  };
}

/** The protocol's matching rule, written out here as the checks' oracle (not the store's code). */
export function matches(query: Query, event: ProtocolEvent): boolean {
  return (
    query.items.length === 0 ||
    query.items.some(
      (item) =>
        (item.types === undefined || item.types.length === 0 || item.types.includes(event.type)) &&
        (item.tags ?? []).every((tag) => event.tags.includes(tag)),
    )
  );
}

const ALL: Query = { items: [] };

/** One writer iteration of `dcb-consistency.ts` / `dcb-monotonic.ts` (`appendEvents`). */
async function appendEvents(
  api: DcbApi,
  fixture: ReturnType<typeof fixtureBuilder>,
  appendId: string,
): Promise<AppendRecord> {
  const query = fixture.createQuery();
  const lastMatchingEventPosition = (await api.readLastEvent(query))?.position ?? 0;
  const events = fixture.createEvents(query, lastMatchingEventPosition, appendId);
  const response = await api.append(events, {
    failIfEventsMatch: query,
    after: lastMatchingEventPosition,
  });
  return {
    appendId,
    query,
    after: lastMatchingEventPosition,
    size: events.length,
    failed: response.appendConditionFailed,
  };
}

interface AppendRecord {
  readonly appendId: string;
  readonly query: Query;
  readonly after: number;
  readonly size: number;
  readonly failed: boolean;
}

/** Sizes of a run: `writers` in parallel (the suite's VUs), each appending `appendsPerWriter` times. */
export interface RunSize {
  readonly writers: number;
  readonly appendsPerWriter: number;
  readonly seed: number;
}

/** What the consistency check saw. */
export interface ConsistencyReport {
  readonly appends: number;
  readonly conditionFailures: number;
  readonly eventsInLog: number;
  /** Batches whose recorded `after` is not the last matching position before them in the log. */
  readonly violations: string[];
  /** Appends answered as written whose events are missing, or refused whose events are there. */
  readonly answerMismatches: string[];
  /** Refused appends with no matching event after their `after` in the whole log. */
  readonly unfoundedFailures: string[];
}

/**
 * `dcb-consistency.ts`: `writers` append in parallel (the suite runs 20 VUs for 10 s), each
 * reading the last event matching a random query and appending 1–2 events with the condition
 * "nothing matching after that position". Then, like the suite's `verifyEvents` but over the whole
 * log instead of its first 1,000 positions: for the first event of every batch written, the last
 * event matching its query before it must be exactly the position the writer had read. Beyond the
 * suite: each answer is checked against the log (written ⇔ its events are there, all of them) and
 * each refusal must have a matching event after its `after`.
 */
export async function runConsistencyCheck(api: DcbApi, size: RunSize): Promise<ConsistencyReport> {
  const fixture = fixtureBuilder(
    {
      numberOfEventTypes: 10,
      numberOfTags: 10,
      numberOfItemsPerQuery: { min: 0, max: 3 },
      eventTypesPerQueryItem: { min: 0, max: 4 },
      tagsPerQueryItem: { min: 0, max: 3 },
      eventsPerAppend: { min: 1, max: 2 },
    },
    seededRandom(size.seed),
  );
  const records: AppendRecord[] = [];
  await Promise.all(
    Array.from({ length: size.writers }, async (_, writer) => {
      for (let i = 0; i < size.appendsPerWriter; i++) {
        records.push(await appendEvents(api, fixture, `w${writer}-i${i}`));
      }
    }),
  );

  const log = await api.read(ALL);
  const violations: string[] = [];
  const byAppend = new Map<string, number>();
  log.forEach((event, index) => {
    const data = JSON.parse(event.data) as BatchHead | { batchIndex: number; appendId: string };
    byAppend.set(data.appendId, (byAppend.get(data.appendId) ?? 0) + 1);
    if (data.batchIndex !== 0) return;
    const head = data as BatchHead;
    let lastMatchingPosition = 0;
    for (let j = 0; j < index; j++) {
      if (matches(head.query, log[j]!)) lastMatchingPosition = log[j]!.position;
    }
    if (head.lastMatchingEventPosition !== lastMatchingPosition) {
      violations.push(
        `append ${head.appendId} at ${event.position} read ${head.lastMatchingEventPosition} as the last match of ${JSON.stringify(head.query)}, but ${lastMatchingPosition} precedes it`,
      );
    }
  });
  const answerMismatches = records
    .filter((r) => (byAppend.get(r.appendId) ?? 0) !== (r.failed ? 0 : r.size))
    .map(
      (r) =>
        `append ${r.appendId} answered ${r.failed ? 'refused' : 'written'} with ${r.size} events; the log holds ${byAppend.get(r.appendId) ?? 0}`,
    );
  const unfoundedFailures = records
    .filter((r) => r.failed && !log.some((e) => e.position > r.after && matches(r.query, e)))
    .map((r) => `append ${r.appendId} was refused, but nothing matches its query after ${r.after}`);
  return {
    appends: records.length,
    conditionFailures: records.filter((r) => r.failed).length,
    eventsInLog: log.length,
    violations,
    answerMismatches,
    unfoundedFailures,
  };
}

/** What the monotonic check saw. */
export interface MonotonicReport {
  readonly appends: number;
  /** Reads of the whole log, and reads of its tail. */
  readonly reads: number;
  readonly tailReads: number;
  /** How many different log lengths the whole-log readers saw: the log grew while they read. */
  readonly distinctLengths: number;
  readonly violations: string[];
}

/**
 * `dcb-monotonic.ts`: `writers` append 2–5 events at a time (random queries, with conditions)
 * while `readers` read the whole log (`all`, no options) again and again. The suite keeps the last
 * 6 positions of each read and checks that where two successive reads overlap, they agree. Checked
 * here, stricter: the positions of every read rise strictly, and every read of a reader begins with
 * exactly the positions of its previous read (an event never appears below a position already
 * read, never disappears, never moves).
 *
 * Beyond the suite, `tailReaders` read the newest 20 events (`backwards`, `limit`) in a tight loop,
 * which is far likelier to land between two commits than a read of the whole log: between two
 * successive tail reads, the positions in the range both cover must be the same (a late commit
 * below a position already read would show up there).
 */
export async function runMonotonicCheck(
  api: DcbApi,
  size: RunSize & {
    readonly readers: number;
    readonly tailReaders: number;
    /**
     * Beyond the suite: how many `LateCommit` events one more writer appends, one at a time, while
     * the others run. A spec that makes their transactions slow to commit (a trigger that sleeps)
     * opens a wide window in which later positions commit first: a read that is not gap-safe
     * shows those before the late one.
     */
    readonly lateCommits?: number;
  },
): Promise<MonotonicReport> {
  const fixture = fixtureBuilder(
    {
      numberOfEventTypes: 5,
      numberOfTags: 5,
      numberOfItemsPerQuery: { min: 0, max: 3 },
      eventTypesPerQueryItem: { min: 0, max: 4 },
      tagsPerQueryItem: { min: 0, max: 3 },
      eventsPerAppend: { min: 2, max: 5 },
    },
    seededRandom(size.seed),
  );
  let writing = true;
  let appends = 0;
  let reads = 0;
  let tailReads = 0;
  const lengths = new Set<number>();
  const violations: string[] = [];
  const rising = (who: string, positions: readonly number[]) => {
    for (let i = 1; i < positions.length; i++) {
      if (positions[i]! <= positions[i - 1]!) {
        violations.push(`${who}: position ${positions[i]} follows ${positions[i - 1]} in one read`);
      }
    }
  };
  const writers = Promise.all(
    Array.from({ length: size.writers }, async (_, writer) => {
      for (let i = 0; i < size.appendsPerWriter; i++) {
        await appendEvents(api, fixture, `w${writer}-i${i}`);
        appends++;
      }
    }),
  ).finally(() => {
    writing = false;
  });
  const lateWriter = (async () => {
    for (let i = 0; i < (size.lateCommits ?? 0) && writing; i++) {
      await api.append([{ type: 'LateCommit', tags: [], data: '{}' }]);
    }
  })();
  const readers = Array.from({ length: size.readers }, async (_, reader) => {
    let previous: number[] = [];
    // One more read after the writers finished: it must extend every earlier one too.
    for (let last = false; !last;) {
      last = !writing;
      const positions = (await api.read(ALL)).map((e) => e.position);
      reads++;
      lengths.add(positions.length);
      rising(`reader ${reader}`, positions);
      const changed = previous.findIndex((p, i) => positions[i] !== p);
      if (changed !== -1) {
        violations.push(
          `reader ${reader}: read ${previous.length} positions, then ${positions[changed] ?? 'nothing'} where ${previous[changed]} was (index ${changed})`,
        );
      }
      previous = positions;
    }
  });
  const tailReaders = Array.from({ length: size.tailReaders }, async (_, reader) => {
    let previous: number[] = [];
    while (writing) {
      const positions = (await api.read(ALL, { backwards: true, limit: 20 }))
        .map((e) => e.position)
        .reverse();
      tailReads++;
      rising(`tail reader ${reader}`, positions);
      const low = Math.max(previous[0] ?? 0, positions[0] ?? 0);
      const high = previous.at(-1) ?? 0;
      const before = previous.filter((p) => p >= low && p <= high).join(',');
      const now = positions.filter((p) => p >= low && p <= high).join(',');
      if (before !== now) {
        violations.push(
          `tail reader ${reader}: positions ${low}–${high} read as [${before}], then as [${now}]`,
        );
      }
      previous = positions;
    }
  });
  await Promise.all([writers, lateWriter, ...readers, ...tailReaders]);
  return { appends, reads, tailReads, distinctLengths: lengths.size, violations };
}

/** What the parallel-writes check saw. */
export interface ParallelWritesReport {
  readonly appends: number;
  readonly conditionFailures: number;
  /** Events in the log with each writer's unique tag, tag by tag (expected: 1 each). */
  readonly missingOrRepeated: string[];
}

/**
 * `dcb-parallel-writes.ts`: `writers` append in parallel, each iteration one `SomeEvent` with a tag
 * of its own and the condition "no `SomeEvent` with this tag exists" (no `after`). Nothing is
 * related, so the suite's `dcb_append_error_rate` should be 0: here every answer must be 200 with
 * `appendConditionFailed: false` (any other status throws), and each event must be in the log once.
 */
export async function runParallelWritesCheck(
  api: DcbApi,
  size: Omit<RunSize, 'seed'>,
): Promise<ParallelWritesReport> {
  let conditionFailures = 0;
  const tags: string[] = [];
  await Promise.all(
    Array.from({ length: size.writers }, async (_, vu) => {
      for (let iter = 0; iter < size.appendsPerWriter; iter++) {
        const uniqueTag = `vu${vu + 1}-iter${iter}`;
        tags.push(uniqueTag);
        const response = await api.append([{ type: 'SomeEvent', tags: [uniqueTag], data: '{}' }], {
          failIfEventsMatch: { items: [{ tags: [uniqueTag], types: ['SomeEvent'] }] },
        });
        if (response.appendConditionFailed) conditionFailures++;
      }
    }),
  );
  const counts = new Map<string, number>();
  for (const event of await api.read({ items: [{ types: ['SomeEvent'] }] })) {
    for (const tag of event.tags) counts.set(tag, (counts.get(tag) ?? 0) + 1);
  }
  return {
    appends: tags.length,
    conditionFailures,
    missingOrRepeated: tags
      .filter((tag) => counts.get(tag) !== 1)
      .map((tag) => `${tag}: ${counts.get(tag) ?? 0} events`),
  };
}
