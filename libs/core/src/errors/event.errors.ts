import { ErrorMessages } from './error-messages';
import { ErrorCodes, EventCoreError } from './eventcore.error';

/**
 * A stored event could not be turned into its current shape (missing or failing upcaster, unknown
 * newer version, undecodable bytes). Names the event so it can be found; the event is never dropped.
 */
export class EventDecodeError extends EventCoreError {
  readonly code = ErrorCodes.eventDecode;
  constructor(
    readonly eventId: string,
    readonly streamId: string,
    readonly eventType: string,
    readonly storedVersion: number,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(ErrorMessages.eventDecode(eventId, streamId, eventType, storedVersion, reason), options);
  }
}
