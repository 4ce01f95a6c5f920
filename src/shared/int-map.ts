/**
 * A map from non-negative integer keys (below 2^53) to values, for tables that gain and lose an
 * entry per command (tasks by ITT, a task set by arrival number).
 *
 * Why not Map: V8 rebuilds a Map's hash table as entries come and go, and the old table keeps a
 * pointer to the new one (for iterators). Once one table has been promoted to the old generation
 * (every full GC does that to the live one), each dead old table keeps the next young one, and
 * through its entries every command they held, alive across scavenges: about all a command
 * allocates then survives and is promoted, and the target runs at half speed from the first full
 * GC on (docs/benchmarks.md). Open addressing in plain arrays keeps no such chain.
 */
export class IntMap<V> {
  private keys: Float64Array;
  private vals: (V | undefined)[];
  private used: Uint8Array;
  private count = 0;

  constructor(capacity = 16) {
    let n = 8;
    while (n < capacity * 2) n *= 2;
    this.keys = new Float64Array(n);
    this.vals = new Array<V | undefined>(n).fill(undefined);
    this.used = new Uint8Array(n);
  }

  get size(): number {
    return this.count;
  }

  get(key: number): V | undefined {
    const i = this.find(key);
    return i < 0 ? undefined : this.vals[i];
  }

  has(key: number): boolean {
    return this.find(key) >= 0;
  }

  set(key: number, value: V): void {
    if (!(Number.isInteger(key) && key >= 0 && key <= Number.MAX_SAFE_INTEGER)) throw new RangeError(`IntMap key ${key}`);
    const mask = this.used.length - 1;
    let i = slotOf(key, mask);
    while (this.used[i] === 1) {
      if (this.keys[i] === key) {
        this.vals[i] = value;
        return;
      }
      i = (i + 1) & mask;
    }
    this.used[i] = 1;
    this.keys[i] = key;
    this.vals[i] = value;
    this.count++;
    if (this.count * 2 > this.used.length) this.resize(this.used.length * 2);
  }

  delete(key: number): boolean {
    let i = this.find(key);
    if (i < 0) return false;
    const mask = this.used.length - 1;
    // Backward-shift deletion: later entries of the probe run move up, so no tombstones pile up.
    for (let j = (i + 1) & mask; this.used[j] === 1; j = (j + 1) & mask) {
      const home = slotOf(this.keys[j]!, mask);
      // Entry j may fill the hole at i if its home slot is not cyclically in (i, j].
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        this.keys[i] = this.keys[j]!;
        this.vals[i] = this.vals[j];
        i = j;
      }
    }
    this.used[i] = 0;
    this.vals[i] = undefined;
    this.count--;
    return true;
  }

  *values(): IterableIterator<V> {
    // A snapshot: callers may delete while iterating.
    const out: V[] = [];
    for (let i = 0; i < this.used.length; i++) if (this.used[i] === 1) out.push(this.vals[i] as V);
    yield* out;
  }

  private find(key: number): number {
    const mask = this.used.length - 1;
    for (let i = slotOf(key, mask); this.used[i] === 1; i = (i + 1) & mask) {
      if (this.keys[i] === key) return i;
    }
    return -1;
  }

  private resize(n: number): void {
    const { keys, vals, used } = this;
    this.keys = new Float64Array(n);
    this.vals = new Array<V | undefined>(n).fill(undefined);
    this.used = new Uint8Array(n);
    this.count = 0;
    for (let i = 0; i < used.length; i++) if (used[i] === 1) this.set(keys[i]!, vals[i] as V);
  }
}

/** Home slot: the key's low and high 32 bits mixed (ITTs and arrival numbers are mostly consecutive). */
function slotOf(key: number, mask: number): number {
  const h = Math.imul((key >>> 0) ^ Math.floor(key / 0x1_0000_0000), 0x9e3779b1);
  return (h ^ (h >>> 15)) & mask;
}
