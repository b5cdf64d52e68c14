/**
 * Run ids as they may appear in a URL. The exchange builds keys as `mat:{<runId>}:...`, so an id must not
 * contain braces, colons or whitespace; anything else in a URL is answered with 404 before Redis is asked.
 */
const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function isValidRunId(id: string): boolean {
  return RUN_ID_PATTERN.test(id);
}

/** A Redis stream entry id (`<ms>-<seq>`), used as the "after" cursor of the metrics API. */
const STREAM_ID_PATTERN = /^\d{1,20}-\d{1,20}$/;

export function isValidStreamId(id: string): boolean {
  return STREAM_ID_PATTERN.test(id);
}
