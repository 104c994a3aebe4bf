// The servers production starts too (masksweep run's nats-server) live in @masksweep/process;
// tests take them from here with the rest of the harness.
export {
  freePort,
  type NatsServer,
  type NatsServerOptions,
  startNatsServer,
} from '@masksweep/process';
export { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium.js';
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
export { DEBIAN_PYTHON, pythonCanImport } from './python.js';
