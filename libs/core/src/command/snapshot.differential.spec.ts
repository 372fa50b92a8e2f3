import { InMemoryEventStore } from '../memory/in-memory.event-store';
import { InMemorySnapshotStore } from '../memory/in-memory.snapshot-store';
import type { EventStore } from '../store/event-store';
import { snapshotDifferentialSuite } from '../testing/snapshot.differential';

snapshotDifferentialSuite('in-memory stores', (scheduled?: EventStore) => {
  const events = scheduled ?? new InMemoryEventStore();
  return { events, snapshots: new InMemorySnapshotStore(events) };
});
