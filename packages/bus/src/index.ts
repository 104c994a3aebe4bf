export { connectBus, connectBusWhenUp, type WaitingForBus } from './connection.js';
export {
  type ConsumeEventsOptions,
  consumeEvents,
  type DecodedEvent,
  type EventConsumer,
  type PoisonMessage,
  type ScreenedMessage,
  type ScreenVerdict,
} from './consumer.js';
export {
  EventRejectedError,
  InvalidOptionError,
  InvalidSubjectError,
  MisaddressedEventError,
  PublisherBufferFullError,
  PublisherClosedError,
  PublisherFlushTimeoutError,
} from './errors.js';
export {
  LIFECYCLE_EVENT_CASES,
  type LifecycleEventCase,
  lifecycleEventCase,
  lifecycleEventId,
  metricEventId,
} from './event-ids.js';
export { EventPublisher, type EventPublisherOptions, MESSAGE_ID_HEADER } from './publisher.js';
export {
  EVENTS_STREAM,
  type EventsStreamOptions,
  ensureStream,
  eventsStreamConfig,
} from './stream.js';
export {
  allEventsSubject,
  EVENT_KINDS,
  type EventAddress,
  type EventKind,
  parseSubject,
  SUBJECT_PREFIX,
  subjectFor,
  subjectToken,
  sweepEventsSubject,
  trialEventsSubject,
} from './subjects.js';
