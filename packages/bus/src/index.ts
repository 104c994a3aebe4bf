export {
  type BusConnectionOptions,
  connectBus,
  connectBusWhenUp,
  type WaitingForBus,
} from './connection.js';
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
  BUS_CREDENTIALS_ENV,
  type BusCredentials,
  busCredentialsFromEnv,
  credentialOptions,
} from './credentials.js';
export {
  EventRejectedError,
  InvalidOptionError,
  InvalidSubjectError,
  MisaddressedEventError,
  PublisherBufferFullError,
  PublisherClosedError,
  PublisherFlushTimeoutError,
  PublishNotPermittedError,
} from './errors.js';
export {
  LIFECYCLE_EVENT_CASES,
  type LifecycleEventCase,
  lifecycleEventCase,
  lifecycleEventId,
  metricEventId,
} from './event-ids.js';
export {
  createNatsAuthority,
  type MintOptions,
  mintUserCredentials,
  type NatsAuthority,
  type NatsUserRole,
  natsServerAuthConfig,
  trialInboxPrefix,
  userPermissions,
} from './nats-auth.js';
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
