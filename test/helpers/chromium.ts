/** Debian's Chromium, as the browser tests drive it through playwright-core. */
export const CHROMIUM = process.env.MAT_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Headless, root-safe, and quiet on a machine without internet: without the background-networking flags
 * Chromium keeps opening connections that this machine refuses.
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
