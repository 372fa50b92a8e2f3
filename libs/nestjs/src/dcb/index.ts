export * from './dcb-protocol.module';
export type {
  DcbProtocolAppendResponse,
  DcbProtocolEvent,
  DcbProtocolSequencedEvent,
} from './dcb-protocol.request';
