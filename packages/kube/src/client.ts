/**
 * A small Kubernetes REST client: JSON requests and watch streams over one keep-alive HTTPS
 * agent. Credentials come from a kubeconfig or the pod's service account (`kubeconfig.ts`;
 * exec plugins and auth providers through `@kubernetes/client-node`, loaded only for them);
 * the requests themselves are plain, so merge patches and status subresources need no
 * generated API classes. Every request has a time limit (`requestTimeoutMs`); a watch has
 * one until its headers, then only an optional limit on the silence between its lines.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import {
  Agent,
  type AgentOptions,
  type RequestOptions as HttpsRequestOptions,
  request as httpsRequest,
} from 'node:https';
import { createInterface } from 'node:readline';
import { apiError, KubeTimeoutError } from './errors.js';
import { loadKubeCredentials } from './kubeconfig.js';

/** The part of any Kubernetes object the clients read. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: OwnerReference[];
  };
  code?: number;
  message?: string;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface KubeList<T extends KubeObject = KubeObject> {
  metadata: { resourceVersion: string; continue?: string };
  items: T[];
}

/** One line of a Kubernetes watch stream. */
export interface WatchEvent<T extends KubeObject = KubeObject> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  /** The object; for ERROR a `Status` whose `code` is 410 when the resourceVersion is too old. */
  object: T;
}

export interface KubeResponse<T = unknown> {
  status: number;
  /** Parsed JSON when the server answered JSON, else the text. */
  body: T;
}

export interface RequestOptions {
  /**
   * The body's media type.
   * @default 'application/merge-patch+json' for PATCH, else 'application/json'
   */
  contentType?: string;
  signal?: AbortSignal;
  /** This request's limit, in place of the client's `requestTimeoutMs`. */
  timeoutMs?: number;
}

export interface WatchOptions {
  /**
   * The longest silence (no event, no bookmark) after which the stream counts as stalled:
   * it is destroyed and the watch throws a {@link KubeTimeoutError}. Set it above the
   * watch's `timeoutSeconds`, after which a live server ends the stream itself.
   * @default none
   */
  idleTimeoutMs?: number;
}

/** The client's default `requestTimeoutMs`: kubectl's and client-go's callers use about as much. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export interface KubeClient {
  /** `https://host:port` of the API server. */
  readonly server: string;
  /** The namespace of the kubeconfig's context, or of the pod's service account. */
  readonly namespace: string;
  /**
   * One request; `body` is sent as is when a string, else as JSON. Never throws for an
   * HTTP status: the caller reads `status`. Throws a {@link KubeTimeoutError} when the whole
   * response has not arrived within the limit (its connection is destroyed).
   */
  request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    options?: RequestOptions,
  ): Promise<KubeResponse<T>>;
  /** {@link request}, but a status of 300 or more throws the typed error of `errors.ts`. */
  call<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    options?: RequestOptions,
  ): Promise<T>;
  /**
   * The events of a watch request (`path` carries `watch=1` and the query), until `signal`
   * aborts or the server closes the stream. Throws when the server refuses the watch, a
   * {@link KubeTimeoutError} when its headers take longer than the request limit or the
   * stream stays silent longer than `idleTimeoutMs`. Never cut for lasting long.
   */
  watch<T extends KubeObject = KubeObject>(
    path: string,
    signal: AbortSignal,
    options?: WatchOptions,
  ): AsyncGenerator<WatchEvent<T>>;
  /** Closes the idle connections. */
  close(): void;
}

export interface KubeClientOptions {
  server: string;
  /** @default 'default' */
  namespace?: string;
  /** The `Authorization` header's value, asked for before each request (tokens rotate). */
  authorization?: () => string | undefined | Promise<string | undefined>;
  /** CA, client certificate, `rejectUnauthorized`. */
  tls?: Pick<AgentOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'servername'>;
  /** Requests in flight at once. @default 32 */
  maxSockets?: number;
  /**
   * The `User-Agent`, whose first word the API server records as the field manager of what
   * this client writes (`metadata.managedFields`). @default 'masksweep'
   */
  userAgent?: string;
  /**
   * The longest a request may take, from sending it to the end of its response (a watch:
   * to its headers). Past it the connection is destroyed and the request throws a
   * {@link KubeTimeoutError}. @default 30000 ({@link DEFAULT_REQUEST_TIMEOUT_MS})
   */
  requestTimeoutMs?: number;
}

/** What one exchange has opened so far, for its time limit to destroy. */
interface Exchange {
  request?: ClientRequest;
  response?: IncomingMessage;
  expired?: KubeTimeoutError;
}

/**
 * Runs `work` under a time limit: when it passes, the exchange's request and response are
 * destroyed (their socket with them) and the promise rejects with the timeout error at once,
 * wherever `work` was waiting.
 */
function withinLimit<T>(
  timeoutMs: number,
  timeoutError: () => KubeTimeoutError,
  work: (exchange: Exchange) => Promise<T>,
): Promise<T> {
  const exchange: Exchange = {};
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      exchange.expired = timeoutError();
      exchange.response?.destroy(exchange.expired);
      exchange.request?.destroy(exchange.expired);
      reject(exchange.expired);
    }, timeoutMs);
  });
  return Promise.race([work(exchange), expired]).finally(() => clearTimeout(timer));
}

export function createKubeClient(options: KubeClientOptions): KubeClient {
  const agent = new Agent({
    ...options.tls,
    keepAlive: true,
    maxSockets: options.maxSockets ?? 32,
  });
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const open = async (
    exchange: Exchange,
    method: string,
    path: string,
    signal: AbortSignal | undefined,
    payload?: string,
    contentType?: string,
  ): Promise<IncomingMessage> => {
    const authorization = await options.authorization?.();
    // The limit passed while the credentials were read: send nothing.
    if (exchange.expired) throw exchange.expired;
    const requestOptions: HttpsRequestOptions = {
      method,
      agent,
      signal,
      headers: {
        ...(authorization && { authorization }),
        'user-agent': options.userAgent ?? 'masksweep',
        accept: 'application/json',
        // Explicit: Node sends a DELETE's body without a length, and the server then reads
        // the body as the next request on the kept-alive connection.
        ...(payload !== undefined && {
          'content-type': contentType,
          'content-length': Buffer.byteLength(payload),
        }),
      },
    };
    return new Promise((resolve, reject) => {
      const request = httpsRequest(new URL(path, options.server), requestOptions);
      exchange.request = request;
      request.once('response', (response) => {
        exchange.response = response;
        resolve(response);
      });
      request.once('error', reject);
      request.end(payload);
    });
  };
  const request = async <T>(
    method: string,
    path: string,
    body?: unknown,
    requestOptions: RequestOptions = {},
  ): Promise<KubeResponse<T>> => {
    const payload = body === undefined || typeof body === 'string' ? body : JSON.stringify(body);
    const contentType =
      requestOptions.contentType ??
      (method === 'PATCH' ? 'application/merge-patch+json' : 'application/json');
    const timeoutMs = requestOptions.timeoutMs ?? requestTimeoutMs;
    return withinLimit(
      timeoutMs,
      () => new KubeTimeoutError(method, path, timeoutMs),
      async (exchange) => {
        const response = await open(
          exchange,
          method,
          path,
          requestOptions.signal,
          payload,
          contentType,
        );
        const text = await readText(response);
        const json = (response.headers['content-type'] ?? '').includes('json');
        return {
          status: response.statusCode ?? 0,
          body: (json && text ? JSON.parse(text) : text) as T,
        };
      },
    );
  };
  return {
    server: options.server,
    namespace: options.namespace ?? 'default',
    request,
    async call<T>(method: string, path: string, body?: unknown, requestOptions?: RequestOptions) {
      const response = await request<T>(method, path, body, requestOptions);
      if (response.status >= 300) throw apiError(response.status, method, path, response.body);
      return response.body;
    },
    async *watch<T extends KubeObject>(
      path: string,
      signal: AbortSignal,
      watchOptions: WatchOptions = {},
    ) {
      let response: IncomingMessage;
      try {
        // The API server sends a watch's headers at once: only the stream lasts.
        response = await withinLimit(
          requestTimeoutMs,
          () => new KubeTimeoutError('WATCH', path, requestTimeoutMs, 'no headers'),
          async (exchange) => {
            const opened = await open(exchange, 'GET', path, signal);
            if (opened.statusCode === 200) return opened;
            const text = await readText(opened);
            throw apiError(opened.statusCode ?? 0, 'WATCH', path, text);
          },
        );
      } catch (error) {
        if (signal.aborted) return;
        throw error;
      }
      const { idleTimeoutMs } = watchOptions;
      let silence: NodeJS.Timeout | undefined;
      const heard = () => {
        if (idleTimeoutMs === undefined) return;
        clearTimeout(silence);
        silence = setTimeout(() => {
          const what = 'no event or bookmark';
          response.destroy(new KubeTimeoutError('WATCH', path, idleTimeoutMs, what));
        }, idleTimeoutMs);
      };
      const lines = createInterface({ input: response, crlfDelay: Number.POSITIVE_INFINITY });
      heard();
      try {
        for await (const line of lines) {
          heard();
          if (line) yield JSON.parse(line) as WatchEvent<T>;
        }
      } catch (error) {
        if (!signal.aborted) throw error;
      } finally {
        clearTimeout(silence);
        response.destroy();
      }
    },
    close: () => agent.destroy(),
  };
}

async function readText(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export interface LoadKubeClientOptions {
  /** A kubeconfig file. @default $KUBECONFIG, ~/.kube/config, else the pod's service account */
  kubeconfig?: string;
  /** @default the kubeconfig's current context */
  context?: string;
}

/** Tokens from files and exec plugins rotate: read the credentials again after this long. */
const AUTHORIZATION_TTL_MS = 60_000;

/** A client for the cluster a kubeconfig (or, in a pod, the service account) points at. */
export async function loadKubeClient(
  options: LoadKubeClientOptions & Pick<KubeClientOptions, 'userAgent' | 'requestTimeoutMs'> = {},
): Promise<KubeClient> {
  const { server, namespace, tls, authorization } = await loadKubeCredentials(options);
  let cached: { value?: string; until: number } = { until: 0 };
  return createKubeClient({
    server,
    namespace,
    tls,
    userAgent: options.userAgent,
    requestTimeoutMs: options.requestTimeoutMs,
    ...(authorization && {
      async authorization() {
        if (Date.now() >= cached.until)
          cached = { value: await authorization(), until: Date.now() + AUTHORIZATION_TTL_MS };
        return cached.value;
      },
    }),
  });
}
