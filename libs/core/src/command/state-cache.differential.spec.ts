import { InMemoryEventStore } from '../memory/in-memory.event-store';
import { stateCacheDifferentialSuite } from '../testing/state-cache.differential';

stateCacheDifferentialSuite('in-memory store', () => new InMemoryEventStore());
