export { deriveSeed, hashString, Random } from './random.js';
