/**
 * grpc-js service definitions of the Leaderboard and the standard Health service, built on
 * the generated codecs: handlers receive fully defaulted requests and may answer with
 * partial responses (absent fields take their defaults); clients get decoded responses.
 */
import * as grpc from '@grpc/grpc-js';
import type { MessageCodec, MessageInit } from './codec.js';
import { HealthCheckRequest, HealthCheckResponse } from './generated/grpc-health-v1.js';
import {
  CompareConfigsRequest,
  CompareConfigsResponse,
  GetSweepSummaryRequest,
  ListResultsRequest,
  ListResultsResponse,
  RegisterSweepRequest,
  RegisterSweepResponse,
  ReportResultRequest,
  ReportResultResponse,
  SweepSummary,
  TrialResult,
  WatchResultsRequest,
} from './generated/masksweep-v1.js';

function method<Req, Res>(
  path: string,
  request: MessageCodec<Req>,
  response: MessageCodec<Res>,
  responseStream: boolean,
) {
  return {
    path,
    requestStream: false,
    responseStream,
    requestSerialize: (message: MessageInit<Req>) => asBuffer(request.encode(message)),
    requestDeserialize: (bytes: Buffer) => request.decode(bytes),
    responseSerialize: (message: MessageInit<Res>) => asBuffer(response.encode(message)),
    responseDeserialize: (bytes: Buffer) => response.decode(bytes),
  };
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export const LEADERBOARD_SERVICE_NAME = 'masksweep.v1.Leaderboard';
const leaderboard = (name: string) => `/${LEADERBOARD_SERVICE_NAME}/${name}`;

/** `server.addService(LeaderboardService, implementation)`. */
export const LeaderboardService = {
  registerSweep: method(
    leaderboard('RegisterSweep'),
    RegisterSweepRequest,
    RegisterSweepResponse,
    false,
  ),
  reportResult: method(
    leaderboard('ReportResult'),
    ReportResultRequest,
    ReportResultResponse,
    false,
  ),
  listResults: method(leaderboard('ListResults'), ListResultsRequest, ListResultsResponse, false),
  getSweepSummary: method(
    leaderboard('GetSweepSummary'),
    GetSweepSummaryRequest,
    SweepSummary,
    false,
  ),
  compareConfigs: method(
    leaderboard('CompareConfigs'),
    CompareConfigsRequest,
    CompareConfigsResponse,
    false,
  ),
  watchResults: method(leaderboard('WatchResults'), WatchResultsRequest, TrialResult, true),
} satisfies grpc.ServiceDefinition;

/** The handlers a Leaderboard server implements. */
export interface LeaderboardServer extends grpc.UntypedServiceImplementation {
  registerSweep: grpc.handleUnaryCall<RegisterSweepRequest, MessageInit<RegisterSweepResponse>>;
  reportResult: grpc.handleUnaryCall<ReportResultRequest, MessageInit<ReportResultResponse>>;
  listResults: grpc.handleUnaryCall<ListResultsRequest, MessageInit<ListResultsResponse>>;
  getSweepSummary: grpc.handleUnaryCall<GetSweepSummaryRequest, MessageInit<SweepSummary>>;
  compareConfigs: grpc.handleUnaryCall<CompareConfigsRequest, MessageInit<CompareConfigsResponse>>;
  watchResults: grpc.handleServerStreamingCall<WatchResultsRequest, MessageInit<TrialResult>>;
}

export const HEALTH_SERVICE_NAME = 'grpc.health.v1.Health';

/** The standard health-checking service: `server.addService(HealthService, implementation)`. */
export const HealthService = {
  check: method(`/${HEALTH_SERVICE_NAME}/Check`, HealthCheckRequest, HealthCheckResponse, false),
  watch: method(`/${HEALTH_SERVICE_NAME}/Watch`, HealthCheckRequest, HealthCheckResponse, true),
} satisfies grpc.ServiceDefinition;

export interface HealthServer extends grpc.UntypedServiceImplementation {
  check: grpc.handleUnaryCall<HealthCheckRequest, MessageInit<HealthCheckResponse>>;
  watch: grpc.handleServerStreamingCall<HealthCheckRequest, MessageInit<HealthCheckResponse>>;
}

/** Untyped grpc-js client classes (methods by the definitions' keys, callback style). */
export const LeaderboardClientConstructor = grpc.makeGenericClientConstructor(
  LeaderboardService,
  LEADERBOARD_SERVICE_NAME,
);
export const HealthClientConstructor = grpc.makeGenericClientConstructor(
  HealthService,
  HEALTH_SERVICE_NAME,
);

export interface CallOptions {
  /** e.g. `authorization: Bearer <token>` for ReportResult. */
  metadata?: grpc.Metadata;
  deadline?: grpc.Deadline;
}

export interface LeaderboardClient {
  registerSweep(
    request: MessageInit<RegisterSweepRequest>,
    options?: CallOptions,
  ): Promise<RegisterSweepResponse>;
  reportResult(
    request: MessageInit<ReportResultRequest>,
    options?: CallOptions,
  ): Promise<ReportResultResponse>;
  listResults(
    request: MessageInit<ListResultsRequest>,
    options?: CallOptions,
  ): Promise<ListResultsResponse>;
  getSweepSummary(
    request: MessageInit<GetSweepSummaryRequest>,
    options?: CallOptions,
  ): Promise<SweepSummary>;
  compareConfigs(
    request: MessageInit<CompareConfigsRequest>,
    options?: CallOptions,
  ): Promise<CompareConfigsResponse>;
  /** A stream of results: `for await (const result of stream)`; `stream.cancel()` ends it. */
  watchResults(
    request: MessageInit<WatchResultsRequest>,
    options?: CallOptions,
  ): grpc.ClientReadableStream<TrialResult>;
  /** The grpc-js client underneath, for channel state, waitForReady and close. */
  readonly grpcClient: grpc.Client;
  close(): void;
}

export interface HealthClient {
  check(
    request: MessageInit<HealthCheckRequest>,
    options?: CallOptions,
  ): Promise<HealthCheckResponse>;
  watch(
    request: MessageInit<HealthCheckRequest>,
    options?: CallOptions,
  ): grpc.ClientReadableStream<HealthCheckResponse>;
  readonly grpcClient: grpc.Client;
  close(): void;
}

/** A promise-style Leaderboard client; `address` is `host:port`, plaintext unless credentials say. */
export function createLeaderboardClient(
  address: string,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  options?: grpc.ClientOptions,
): LeaderboardClient {
  const client = new LeaderboardClientConstructor(address, credentials, options);
  const s = LeaderboardService;
  return {
    registerSweep: unaryCall(client, s.registerSweep),
    reportResult: unaryCall(client, s.reportResult),
    listResults: unaryCall(client, s.listResults),
    getSweepSummary: unaryCall(client, s.getSweepSummary),
    compareConfigs: unaryCall(client, s.compareConfigs),
    watchResults: streamCall(client, s.watchResults),
    grpcClient: client,
    close: () => client.close(),
  };
}

export function createHealthClient(
  address: string,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  options?: grpc.ClientOptions,
): HealthClient {
  const client = new HealthClientConstructor(address, credentials, options);
  return {
    check: unaryCall(client, HealthService.check),
    watch: streamCall(client, HealthService.watch),
    grpcClient: client,
    close: () => client.close(),
  };
}

type Definition<Req, Res> = ReturnType<typeof method<Req, Res>>;

function unaryCall<Req, Res>(client: grpc.Client, definition: Definition<Req, Res>) {
  return (request: MessageInit<Req>, options: CallOptions = {}): Promise<Res> =>
    new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        definition.path,
        definition.requestSerialize,
        definition.responseDeserialize,
        request,
        options.metadata ?? new grpc.Metadata(),
        { deadline: options.deadline },
        (error, response) => (error ? reject(error) : resolve(response as Res)),
      );
    });
}

function streamCall<Req, Res>(client: grpc.Client, definition: Definition<Req, Res>) {
  return (request: MessageInit<Req>, options: CallOptions = {}) =>
    client.makeServerStreamRequest(
      definition.path,
      definition.requestSerialize,
      definition.responseDeserialize,
      request,
      options.metadata ?? new grpc.Metadata(),
      { deadline: options.deadline },
    );
}
