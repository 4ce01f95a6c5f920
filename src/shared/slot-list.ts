/**
 * An unordered collection whose add returns a slot number to remove by, for things that come and
 * go once per command (I/O under way, held block ranges). A Set would do, but V8 rebuilds a Set's
 * table as entries come and go and keeps old tables pointing at new ones, which holds every
 * command alive across scavenges once a table is old (see int-map.ts). Slots are reused.
 */
export class SlotList<T> {
  private readonly items: (T | undefined)[] = [];
  private readonly free: number[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(item: T): number {
    const slot = this.free.pop() ?? this.items.length;
    this.items[slot] = item;
    this.count++;
    return slot;
  }

  /** Remove what `add` put in `slot` (once; a second call is a bug and throws). */
  remove(slot: number): void {
    if (this.items[slot] === undefined) throw new Error(`SlotList.remove: slot ${slot} is empty`);
    this.items[slot] = undefined;
    this.free.push(slot);
    this.count--;
  }

  /** The items now, as a list (safe to change the collection while using it). */
  values(): T[] {
    const out: T[] = [];
    for (const item of this.items) if (item !== undefined) out.push(item);
    return out;
  }
}
