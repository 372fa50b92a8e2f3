import type { CommandResult } from '@eventcore/core';

/**
 * What a write endpoint answers for a command: which execution it was (`commandId`), whether it
 * was a replay of an earlier try with the same idempotency key (`replayed`) — so a client that
 * resends after a broken connection can tell whether its first try landed —, where the events went
 * and the position to wait for to read its own write.
 */
export interface CommandResponse {
  readonly commandId: string;
  readonly replayed: boolean;
  readonly position: string;
  readonly streamVersions: Readonly<Record<string, number>>;
  readonly attempts: number;
}

/** The {@link CommandResponse} of a command's result (events and their data are left out). */
export function commandResponse(result: CommandResult): CommandResponse {
  const { commandId, replayed, position, streamVersions, attempts } = result;
  return { commandId, replayed, position, streamVersions, attempts };
}
