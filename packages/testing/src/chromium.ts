/** Debian's Chromium for browser tests, driven by playwright-core. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * Headless, as root, with no calls home: without the background-networking flags Chromium
 * keeps dialling hosts that this closed network refuses.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
