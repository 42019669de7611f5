/**
 * What a leaf of an audit log's Merkle tree is: the RFC 8785 canonical JSON of the entry, with the log
 * and the index it was given, so that a leaf cannot be moved to another log or position. The verifier
 * (`cordon audit verify`) rebuilds every leaf from an export with this same function.
 */
import { canonicalJson } from './jcs.js';
import { hashLeaf, type Hash } from './merkle.js';
import type { NumberedEntry } from '../store/audit.js';

/** The leaf as an object; its canonical JSON is the leaf's bytes. */
export function leafObject(entry: NumberedEntry) {
  return {
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
  };
}

/**
 * `canonicalJson(leafObject(entry))`, written out with the members already in RFC 8785 order, so that
 * only the free-form parts are sorted: this runs once per entry on every append and in every verify.
 * A test holds the two equal.
 */
export function leafData(entry: NumberedEntry): string {
  const c = canonicalJson;
  return (
    `{"action":${c(entry.action)},"actor":{"id":${c(entry.actor_id)},"type":${c(entry.actor_type)}},` +
    `"authz":${c(entry.authz)},` +
    `"cause":${c(entry.cause)},"details":${c(entry.details)},"index":${c(entry.idx)},"log":${c(entry.account_id)},` +
    `"outcome":${c(entry.outcome)},"target":{"id":${c(entry.target_id)},"type":${c(entry.target_type)}},` +
    `"time":${c(entry.recorded_at)}}`
  );
}

export function leafHashOf(entry: NumberedEntry): Hash {
  return hashLeaf(leafData(entry));
}
