export * from './client.js';
export * from './errors.js';
export * from './informer.js';
export * from './leader.js';
export * from './workqueue.js';
export * from './writes.js';
