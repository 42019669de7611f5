/**
 * The RFC 6962 Merkle tree (RFC 9162 §2.1) of an audit log: hashing, proof planning and proof
 * verification. Nothing here touches storage: a stored tree keeps the hash of every complete, aligned
 * subtree (a *node*, `level` and `index`: leaves [index·2^level, (index+1)·2^level)), and the planners
 * say which nodes a root, an inclusion proof or a consistency proof needs, always O(log n) of them.
 */
import { createHash, hash } from 'node:crypto';
import type { Hash, NodeId } from '../store/tree.js';

export type { Hash, NodeId };

/** MTH({}) = SHA-256("") (RFC 6962 §2.1). */
export const EMPTY_ROOT: Hash = createHash('sha256').digest();

const LEAF_PREFIX = Buffer.of(0);
const NODE_PREFIX = Buffer.of(1);

/** The leaf hash, SHA-256(0x00 || data): the prefix keeps a leaf from passing for an interior node. */
export function hashLeaf(data: Buffer | string): Hash {
  return typeof data === 'string'
    ? hash('sha256', `\0${data}`, 'buffer')
    : hash('sha256', Buffer.concat([LEAF_PREFIX, data]), 'buffer');
}

/** An interior node, SHA-256(0x01 || left || right). */
export function hashChildren(left: Hash, right: Hash): Hash {
  return hash('sha256', Buffer.concat([NODE_PREFIX, left, right]), 'buffer');
}

/**
 * `hashLeaf` and `hashChildren` on lowercase hex, for the verifier's hot loop: one-shot hashing to a
 * hex string allocates no Buffer for the result, which is most of the cost of hashing 100-byte inputs.
 */
export const hashLeafHex = (data: string): string => hash('sha256', `\0${data}`, 'hex');
export const hashChildrenHex = (left: string, right: string): string =>
  hash('sha256', Buffer.from(`01${left}${right}`, 'hex'), 'hex');

/** The largest power of two strictly less than n (n > 1): where MTH splits D[n]. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * The complete aligned subtrees that make up leaves [start, end), left to right, for the ranges MTH
 * builds (a range that starts at a multiple of its largest complete subtree): their sizes decrease, so
 * the range's hash is their fold from the right (see `foldRange`).
 */
export function rangeNodes(start: number, end: number): NodeId[] {
  const nodes: NodeId[] = [];
  let at = start;
  while (at < end) {
    let level = 0;
    // Grow while the block stays aligned at `at` and inside the range.
    while (at % 2 ** (level + 1) === 0 && at + 2 ** (level + 1) <= end) level++;
    nodes.push({ level, index: at / 2 ** level });
    at += 2 ** level;
  }
  return nodes;
}

/** The MTH of a range from the hashes of its `rangeNodes`, in order. */
export function foldRange(hashes: Hash[]): Hash {
  if (hashes.length === 0) return EMPTY_ROOT;
  let acc = hashes[hashes.length - 1]!;
  for (let i = hashes.length - 2; i >= 0; i--) acc = hashChildren(hashes[i]!, acc);
  return acc;
}

/** A proof as planned: the leaf ranges whose MTHs form it, in proof order. */
export type ProofPlan = Array<[start: number, end: number]>;

/** PATH(m, D[n]) of RFC 6962 §2.1.1, as ranges, leaf to root. */
export function inclusionPlan(m: number, n: number): ProofPlan {
  if (!Number.isSafeInteger(m) || !Number.isSafeInteger(n) || m < 0 || m >= n)
    throw new RangeError(`no leaf ${m} in a tree of size ${n}`);
  const plan: ProofPlan = [];
  const path = (m: number, start: number, end: number): void => {
    const size = end - start;
    if (size === 1) return;
    const k = splitPoint(size);
    if (m < k) {
      path(m, start, start + k);
      plan.push([start + k, end]);
    } else {
      path(m - k, start + k, end);
      plan.push([start, start + k]);
    }
  };
  path(m, 0, n);
  return plan;
}

/** PROOF(m, D[n]) of RFC 6962 §2.1.2, as ranges, for 0 < m < n. */
export function consistencyPlan(m: number, n: number): ProofPlan {
  if (!Number.isSafeInteger(m) || !Number.isSafeInteger(n) || m <= 0 || m >= n)
    throw new RangeError(`no consistency proof from ${m} to ${n}`);
  const plan: ProofPlan = [];
  const subproof = (m: number, start: number, end: number, whole: boolean): void => {
    const size = end - start;
    if (m === size) {
      if (!whole) plan.push([start, end]);
      return;
    }
    const k = splitPoint(size);
    if (m <= k) {
      subproof(m, start, start + k, whole);
      plan.push([start + k, end]);
    } else {
      subproof(m - k, start + k, end, false);
      plan.push([start, start + k]);
    }
  };
  subproof(m, 0, n, true);
  return plan;
}

/** Reads stored nodes, all at once (one query). Throws if one is missing. */
export type NodeReader = (ids: NodeId[]) => Promise<Hash[]>;

/** The MTHs of the planned ranges (a proof, or one range for a root), with one read of every node they need. */
export async function resolvePlan(plan: ProofPlan, read: NodeReader): Promise<Hash[]> {
  const perRange = plan.map(([start, end]) => rangeNodes(start, end));
  const hashes = await read(perRange.flat());
  let at = 0;
  return perRange.map((nodes) => foldRange(hashes.slice(at, (at += nodes.length))));
}

/** The root of the first `n` leaves. */
export async function rootAt(n: number, read: NodeReader): Promise<Hash> {
  return n === 0 ? EMPTY_ROOT : (await resolvePlan([[0, n]], read))[0]!;
}

const same = (a: Hash, b: Hash) => a.length === b.length && a.equals(b);

/** Shifts both right until `fn` is odd or zero (RFC 9162's "until LSB(fn) is set or fn is 0"). */
function shiftWhileEven(fn: number, sn: number): [number, number] {
  while (fn % 2 === 0 && fn !== 0) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return [fn, sn];
}

/** RFC 9162 §2.1.3.2: does `path` prove leaf `index` (with hash `leaf`) in the tree of `size` and `root`? */
export function verifyInclusion(leaf: Hash, index: number, size: number, path: Hash[], root: Hash): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = hashChildren(p, r);
      [fn, sn] = shiftWhileEven(fn, sn);
    } else {
      r = hashChildren(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && same(r, root);
}

/**
 * RFC 9162 §2.1.4.2: does `proof` show that the tree of `size1` and `root1` is a prefix of the tree of
 * `size2` and `root2`? Policy for the sizes the RFC leaves out: equal sizes need an empty proof and
 * equal roots; from size 0 there is nothing to prove, so it is refused (as transparency-dev/merkle does):
 * a client that holds no checkpoint has no earlier view to check.
 */
export function verifyConsistency(size1: number, size2: number, proof: Hash[], root1: Hash, root2: Hash): boolean {
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 <= 0 || size2 < size1) return false;
  if (size1 === size2) return proof.length === 0 && same(root1, root2);
  const path = (size1 & (size1 - 1)) === 0 ? [root1, ...proof] : proof;
  if (path.length === 0) return false;
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      [fn, sn] = shiftWhileEven(fn, sn);
    } else {
      sr = hashChildren(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return same(fr, root1) && same(sr, root2) && sn === 0;
}

/**
 * The nodes that appending leaves completes, given the hashes of the leaves from `from` on and a
 * reader for nodes before them: each new leaf closes every subtree it ends. Only the left siblings
 * on the old right edge are read (O(log n)).
 */
export async function nodesCompletedBy(
  from: number,
  leaves: Hash[],
  read: NodeReader,
): Promise<Array<NodeId & { hash: Hash }>> {
  const made = new Map<string, Hash>();
  const key = (level: number, index: number) => `${level}/${index}`;
  // The complete subtrees of the old tree's right edge: the only old nodes a new one can combine with.
  const edge = rangeNodes(0, from);
  const edgeHashes = await read(edge);
  edge.forEach((node, i) => made.set(key(node.level, node.index), edgeHashes[i]!));
  const out: Array<NodeId & { hash: Hash }> = [];
  leaves.forEach((leaf, i) => {
    const index = from + i;
    made.set(key(0, index), leaf);
    out.push({ level: 0, index, hash: leaf });
    let level = 0;
    let at = index;
    while (at % 2 === 1) {
      const left = made.get(key(level, at - 1))!;
      const right = made.get(key(level, at))!;
      level++;
      at = (at - 1) / 2;
      const hash = hashChildren(left, right);
      made.set(key(level, at), hash);
      out.push({ level, index: at, hash });
    }
  });
  return out;
}
