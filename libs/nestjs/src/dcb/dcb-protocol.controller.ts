import {
  Body,
  type CanActivate,
  Controller,
  Get,
  Headers,
  HttpCode,
  HttpStatus,
  Inject,
  Post,
  Query,
  type Type,
  UseGuards,
} from '@nestjs/common';
import {
  AppendConditionFailedError,
  ErrorCodes,
  type EventStore,
  type EventToAppend,
  InvalidAppendError,
  newEventId,
  type RecordedEvent,
} from '@eventcore/core';
import { EVENTCORE_EVENT_STORE } from '../eventcore.constants';
import { executeOptionsFromHeaders } from '../http/request-metadata';
import { problem } from '../http/request-limits';
import {
  type DcbProtocolAppendResponse,
  type DcbProtocolSequencedEvent,
  parseAppendRequest,
  parseReadRequest,
} from './dcb-protocol.request';

type RequestHeaders = Record<string, string | string[] | undefined>;

/**
 * The two routes of the dcb.events protocol at `path`, behind `guard` when given. Built per module
 * because Nest reads a controller's path and guards from its decorators.
 */
export function dcbProtocolController(path: string, guard: Type<CanActivate> | undefined): Type {
  @Controller(path)
  class DcbProtocolController {
    constructor(@Inject(EVENTCORE_EVENT_STORE) private readonly store: EventStore) {}

    /** `GET /read?query=<json>&options=<json>`: the matching events, `[{ type, tags, data, position }]`. */
    @Get('read')
    async read(
      @Query('query') query: unknown,
      @Query('options') options: unknown,
    ): Promise<DcbProtocolSequencedEvent[]> {
      const request = parseReadRequest(query, options);
      const { events } = await this.store.read(request.query, request.options);
      return events.map(sequenced);
    }

    /**
     * `POST /append` with `{ events, condition? }`: 200 with `{ durationInMicroseconds,
     * appendConditionFailed }`, a failed condition included (nothing is written then).
     */
    @Post('append')
    @HttpCode(HttpStatus.OK)
    async append(
      @Body() body: unknown,
      @Headers() headers: RequestHeaders,
    ): Promise<DcbProtocolAppendResponse> {
      const request = parseAppendRequest(body);
      // One id per request: every event of it shares the correlation unless the caller sent one.
      const requestId = newEventId();
      const metadata = {
        correlationId: executeOptionsFromHeaders(headers).correlationId ?? requestId,
        causationId: requestId,
        userId: null,
        custom: {},
      };
      const occurredAt = new Date().toISOString();
      const events = request.events.map(({ type, data, tags }): EventToAppend => ({
        id: newEventId(),
        type,
        data,
        tags,
        metadata,
        occurredAt,
      }));
      const started = process.hrtime.bigint();
      let appendConditionFailed = false;
      try {
        await this.store.append([], { events, condition: request.condition });
      } catch (error) {
        // The events are the request's own (ids and metadata are made here), so an event the store
        // refuses (a bad type or tag) is the caller's mistake: a 400 with the store's reason.
        if (error instanceof InvalidAppendError) {
          throw problem(ErrorCodes.invalidAppend, error.message);
        }
        if (!(error instanceof AppendConditionFailedError)) throw error;
        appendConditionFailed = true;
      }
      const durationInMicroseconds = Number((process.hrtime.bigint() - started) / 1000n);
      return { durationInMicroseconds, appendConditionFailed };
    }
  }
  if (guard !== undefined) UseGuards(guard)(DcbProtocolController);
  return DcbProtocolController;
}

function sequenced(event: RecordedEvent): DcbProtocolSequencedEvent {
  return { type: event.type, tags: event.tags, data: event.data, position: event.globalPosition };
}
