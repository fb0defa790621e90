/**
 * Header names repeat on every CheckRequest (`:path`, `user-agent`…). A new
 * string per name must be hashed and internalized to become a property key,
 * which costs more than the rest of the decode; so the reader asks this
 * cache for the string already made from the same bytes.
 *
 * Two-way set associative, FNV-1a over the bytes: two common names that hash
 * to one set both stay. (The direct-mapped table this replaced put Envoy's
 * `:method` and `x-forwarded-for` in one slot, so every Check evicted one
 * with the other and paid two misses.) Bounded — a hostile stream of new
 * names only causes misses — and exact: a hit compares every byte. The bytes
 * live in one preallocated arena, so a miss allocates nothing but its string.
 */

/** 256 sets × 2 ways: room for every name a proxy sends, many times over. */
const SETS = 256;
const WAYS = 2;
/** Longer names are decoded every time (no real header name comes close). */
export const MAX_CACHED_NAME_BYTES = 64;

export type Utf8Decoder = (buf: Uint8Array, start: number, stop: number) => string;

export class HeaderNameCache {
  readonly #decode: Utf8Decoder;
  readonly #arena = new Uint8Array(SETS * WAYS * MAX_CACHED_NAME_BYTES);
  /** Bytes held per entry; 0 = empty (an empty name is never cached). */
  readonly #lengths = new Uint8Array(SETS * WAYS);
  readonly #strings: string[] = new Array<string>(SETS * WAYS).fill('');
  /** Per set, the way the next miss overwrites (round robin). */
  readonly #victim = new Uint8Array(SETS);
  #misses = 0;

  constructor(decode: Utf8Decoder) {
    this.#decode = decode;
  }

  /** Names made anew since the cache was created (tests read it to prove common names stay). */
  get misses(): number {
    return this.#misses;
  }

  /** The name in `buf[start, stop)`, the cached string when these bytes were seen before. */
  nameAt(buf: Uint8Array, start: number, stop: number): string {
    const length = stop - start;
    if (length === 0 || length > MAX_CACHED_NAME_BYTES) return this.#decode(buf, start, stop);
    let hash = 0x811c9dc5;
    for (let i = start; i < stop; i++) hash = Math.imul(hash ^ buf[i]!, 0x01000193);
    const set = (hash >>> 0) & (SETS - 1);
    const arena = this.#arena;
    for (let way = 0; way < WAYS; way++) {
      const entry = set * WAYS + way;
      if (this.#lengths[entry] !== length) continue;
      const base = entry * MAX_CACHED_NAME_BYTES;
      let same = true;
      for (let i = 0; i < length; i++) {
        if (arena[base + i] !== buf[start + i]) { same = false; break; }
      }
      if (same) return this.#strings[entry]!;
    }
    this.#misses++;
    const name = this.#decode(buf, start, stop);
    const way = this.#victim[set]!;
    this.#victim[set] = (way + 1) % WAYS;
    const entry = set * WAYS + way;
    const base = entry * MAX_CACHED_NAME_BYTES;
    for (let i = 0; i < length; i++) arena[base + i] = buf[start + i]!;
    this.#lengths[entry] = length;
    this.#strings[entry] = name;
    return name;
  }
}
