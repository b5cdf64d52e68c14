import { z } from 'zod';
import { ContractError, decodeJson } from './contract';
import { intField, shortText, workerIdField } from './fields';

/**
 * One field of the `slots` hash (runKeys(id).slots): peer index -> JSON. Written by the Lua scripts of
 * run-store.ts (claim, renew), read by the coordinator, `mat status` and the dashboard.
 */
export const slotLeaseSchema = z.object({
  workerId: workerIdField,
  /** ms epoch (Redis clock). */
  leaseUntil: intField,
  /** -1 until the holder has reported a step. */
  step: z.number().int().min(-1).max(Number.MAX_SAFE_INTEGER),
  status: shortText,
});

export type SlotLease = z.output<typeof slotLeaseSchema>;

/** The hash field (a peer index as decimal text) -> the peer. */
export function decodeSlotField(field: string, what: string): number {
  if (!/^\d{1,6}$/.test(field))
    throw new ContractError(what, [`field "${field.slice(0, 40)}": not a peer index`]);
  return Number(field);
}

export function decodeSlotLease(json: string, what: string): SlotLease {
  return decodeJson(slotLeaseSchema, json, what);
}
