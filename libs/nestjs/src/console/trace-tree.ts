import type { RecordedEvent } from '@eventcore/core';

/** An event of a trace with the events it caused (a process manager's commands' events). */
export interface TraceNode {
  readonly event: RecordedEvent;
  readonly children: TraceNode[];
}

/** The events one cause wrote directly (a command execution), with what they caused in turn. */
export interface TraceRoot {
  /** The cause's id: a command execution's id, or an event outside the trace. */
  readonly causationId: string;
  readonly events: TraceNode[];
}

/**
 * The causation tree of one correlation id's events (given in log order): an event whose
 * `causationId` is another event of the trace hangs under it; the others are grouped by their
 * cause (one group per command execution), in order of first appearance. Only earlier events can
 * be parents, so a malformed log cannot make a cycle.
 */
export function causationTree(events: readonly RecordedEvent[]): TraceRoot[] {
  const nodes = new Map<string, TraceNode>();
  const roots = new Map<string, TraceRoot>();
  for (const event of events) {
    const node: TraceNode = { event, children: [] };
    const cause = event.metadata.causationId;
    const parent = nodes.get(cause);
    if (parent !== undefined) {
      parent.children.push(node);
    } else {
      let root = roots.get(cause);
      if (root === undefined) roots.set(cause, (root = { causationId: cause, events: [] }));
      root.events.push(node);
    }
    if (!nodes.has(event.id)) nodes.set(event.id, node);
  }
  return [...roots.values()];
}
