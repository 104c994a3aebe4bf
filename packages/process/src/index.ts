export { freePort } from './free-port.js';
export { type NatsServer, type NatsServerOptions, startNatsServer } from './nats-server.js';
export {
  endProcess,
  findExecutable,
  launchUntilReady,
  removeTemporaryDir,
  spawnEndingWithParent,
  trackTemporaryDir,
} from './process.js';
