export { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium.js';
export { freePort } from './free-port.js';
export {
  HelmTemplateError,
  type RenderChartOptions,
  type RenderedDocument,
  type RenderTemplateOptions,
  renderChart,
  renderTemplate,
} from './helm-template.js';
export {
  type Container,
  type Job,
  type JobRunContext,
  type JobRunner,
  type JobRunResult,
  type RunJobsOptions,
  runJobs,
} from './job-runner.js';
export {
  applyCrds,
  type KubeApiServer,
  type KubeApiServerOptions,
  type KubectlResult,
  type KubeObject,
  type KubeResponse,
  type RequestOptions,
  startKubeApiServer,
  type WatchEvent,
  waitForCrd,
} from './kube-apiserver.js';
export { type NatsServer, type NatsServerOptions, startNatsServer } from './nats-server.js';
