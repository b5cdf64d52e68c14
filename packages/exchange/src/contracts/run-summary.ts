import { runSummarySchema, type RunSummary } from '@mat/core';
import { decodeJson } from './contract';

/**
 * summary.json of a run directory. Its schema lives in @mat/core (runSummarySchema), beside the runtimes
 * that write it through RunDirectory.writeSummary; readers decode it here, as every other datum that
 * crosses a process boundary: a malformed file is a ContractError naming the file and every bad field.
 */
export {
  runSummarySchema,
  missingEvaluationSchema,
  type MissingEvaluation,
  type RunSummary,
} from '@mat/core';

export const decodeRunSummary = (text: string, file: string): RunSummary =>
  decodeJson(runSummarySchema, text, file);
