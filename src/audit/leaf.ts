/**
 * What a leaf of an audit log's Merkle tree is: the RFC 8785 canonical JSON of the entry, with the log
 * and the index it was given, so that a leaf cannot be moved to another log or position. The verifier
 * (`cordon audit verify`) rebuilds every leaf from an export with this same function.
 */
import { canonicalJson } from './jcs.js';
import { hashLeaf, type Hash } from './merkle.js';
import type { NumberedEntry } from '../store/audit.js';

export function leafData(entry: NumberedEntry): string {
  return canonicalJson({
    log: entry.account_id,
    index: entry.idx,
    time: entry.recorded_at,
    actor: { type: entry.actor_type, id: entry.actor_id },
    action: entry.action,
    target: { type: entry.target_type, id: entry.target_id },
    outcome: entry.outcome,
    cause: entry.cause,
    authz: entry.authz,
    details: entry.details,
  });
}

export function leafHashOf(entry: NumberedEntry): Hash {
  return hashLeaf(Buffer.from(leafData(entry), 'utf8'));
}
