export * from './client.js';
export * from './errors.js';
export * from './informer.js';
export * from './leader.js';
