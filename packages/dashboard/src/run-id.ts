/**
 * Run ids as they may appear in a URL. The exchange builds keys as `mat:{<runId>}:...`, so an id must not
 * contain braces, colons or whitespace; anything else in a URL is answered with 404 before Redis is asked.
 */
export { isValidRunId } from '@mat/exchange';

/** A Redis stream entry id (`<ms>-<seq>`), used as the "after" cursor of the metrics API. */
const STREAM_ID_PATTERN = /^\d{1,20}-\d{1,20}$/;

export function isValidStreamId(id: string): boolean {
  return STREAM_ID_PATTERN.test(id);
}
