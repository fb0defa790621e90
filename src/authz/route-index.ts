/**
 * An index that narrows an ordered rule list to the few rules that could
 * match a path, so the hot path does not try every template in turn.
 *
 * Built once per config: a decision tree keyed on path segments. At a node of
 * depth d, rules with a literal at segment d go to that literal's child only;
 * rules with a capture or '*' there go to every child; rules whose '**' has
 * started go everywhere; rules that end before d go only to the "no segment
 * here" child. Every child keeps config order, and each leaf lists a superset
 * of the rules that can match, so "first full match in the leaf" is exactly
 * "first full match in the whole list". Lookup walks the path by offsets and
 * hashes segments in place: no substring, no array, no regex per request.
 * A hash collision only ever adds candidates (merged into one child), and the
 * full match that follows rejects them.
 * Rules with captures are copied into every sibling, so the tree is bounded:
 * a split that copies too much is skipped, and a budget proportional to the
 * rule count caps the whole tree (past it, leaves just list more candidates).
 */
import { hashSegment, hashText, type PathTemplate } from './path-template.js';

const LEAF_SIZE = 4;
const MAX_DEPTH = 16;
/** A split may place at most this many copies of its rules in its children. */
const MAX_COPIES_PER_SPLIT = 8;
/** Rule copies the whole tree may hold, per rule (plus a base). */
const BUDGET_PER_RULE = 32;
const BUDGET_BASE = 1024;

export interface RouteIndexNode<E> {
  /** Segment position this node branches on; leaves have children === null. */
  readonly depth: number;
  readonly children: ReadonlyMap<number, RouteIndexNode<E>> | null;
  /** Non-empty segment that is not a known literal. */
  readonly other: RouteIndexNode<E> | null;
  /** No segment at this depth (path ended, or ends with a slash). */
  readonly end: RouteIndexNode<E> | null;
  /** Rules to try in order; only meaningful on leaves. */
  readonly candidates: readonly E[];
}

type Placement = { kind: 'literal'; hash: number } | { kind: 'segment' } | { kind: 'everywhere' } | { kind: 'end' };

function placementAt(template: PathTemplate, depth: number): Placement {
  const seg = template.segments[depth];
  if (seg !== undefined) return seg.kind === 'literal' ? { kind: 'literal', hash: hashText(seg.text) } : { kind: 'segment' };
  return template.rest ? { kind: 'everywhere' } : { kind: 'end' };
}

function leaf<E>(entries: readonly E[]): RouteIndexNode<E> {
  return Object.freeze({ depth: -1, children: null, other: null, end: null, candidates: Object.freeze([...entries]) });
}

export function buildRouteIndex<E extends { readonly template: PathTemplate }>(entries: readonly E[]): RouteIndexNode<E> {
  return build(entries, 0, { left: BUDGET_PER_RULE * entries.length + BUDGET_BASE });
}

function build<E extends { readonly template: PathTemplate }>(entries: readonly E[], depth: number, budget: { left: number }): RouteIndexNode<E> {
  if (entries.length <= LEAF_SIZE) return leaf(entries);
  for (let d = depth; d < MAX_DEPTH; d++) {
    const placements = entries.map((e) => placementAt(e.template, d));
    const byLiteral = new Map<number, E[]>();
    const other: E[] = [];
    const end: E[] = [];
    for (const p of placements) if (p.kind === 'literal' && !byLiteral.has(p.hash)) byLiteral.set(p.hash, []);
    if (byLiteral.size === 0 && placements.every((p) => p.kind === 'everywhere' || p.kind === 'segment')) {
      if (placements.every((p) => p.kind === 'everywhere')) break; // nothing deeper can tell them apart
      continue;
    }
    entries.forEach((entry, i) => {
      const p = placements[i]!;
      if (p.kind === 'literal') byLiteral.get(p.hash)!.push(entry);
      else if (p.kind === 'end') end.push(entry);
      else {
        for (const list of byLiteral.values()) list.push(entry);
        other.push(entry);
        if (p.kind === 'everywhere') end.push(entry);
      }
    });
    const sizes = [other.length, end.length, ...[...byLiteral.values()].map((l) => l.length)];
    const copies = sizes.reduce((a, b) => a + b, 0);
    // This segment narrows nothing, or only by copying shared rules everywhere: look deeper.
    if (Math.max(...sizes) === entries.length || copies > MAX_COPIES_PER_SPLIT * entries.length) continue;
    if (copies > budget.left) break;
    budget.left -= copies;
    // Entries were visited in config order, so every bucket already is in config order.
    const children = new Map<number, RouteIndexNode<E>>();
    for (const [hash, list] of byLiteral) children.set(hash, build(list, d + 1, budget));
    return Object.freeze({
      depth: d,
      children,
      other: build(other, d + 1, budget),
      end: leaf(end),
      candidates: Object.freeze([]) as readonly E[],
    });
  }
  return leaf(entries);
}

/** The ordered candidate rules for a normalized absolute path. */
export function routeCandidates<E>(root: RouteIndexNode<E>, path: string): readonly E[] {
  const len = path.length;
  let node = root;
  let depth = 0;
  let pos = 1; // start of segment `depth`; > len once the path is used up
  while (node.children !== null) {
    while (depth < node.depth && pos <= len) {
      const next = path.indexOf('/', pos);
      pos = next === -1 ? len + 1 : next + 1;
      depth++;
    }
    let segEnd = pos < len ? path.indexOf('/', pos) : pos;
    if (segEnd === -1) segEnd = len;
    if (depth < node.depth || segEnd <= pos) {
      node = node.end!;
      continue;
    }
    node = node.children.get(hashSegment(path, pos, segEnd)) ?? node.other!;
  }
  return node.candidates;
}
