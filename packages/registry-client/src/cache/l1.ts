/**
 * The in-process level: a byte-bounded LRU of entries, set only when the new
 * entry may replace the one held (see `mayReplace`), and the bookkeeping
 * that lets a registry read finishing late see whether its keys changed
 * while it was in flight.
 *
 * @internal
 */
import { LRUCache } from "lru-cache";
import { type Entry, mayReplace, type Source, sizeOf } from "./entries";

/** A registry read in flight: what it must check before storing its answer. */
export interface FillTicket {
  /** `applied` when the read was sent: what the answer is current as of, at least. */
  readonly revision: bigint;
  /** The touch sequence number when the read was sent. */
  readonly sequence: number;
  /** The epoch when it was sent; a reset (clear) starts a new one. */
  readonly epoch: number;
}

/** Told of every change L1 applies (so reads in flight from before it are not joined). */
export interface TouchListener {
  /** `key` changed (an event or a write). */
  touched(key: string): void;
  /** Everything was dropped. */
  cleared(): void;
}

/** L1: entries by key, with change tracking for fills in flight. */
export class LocalLevel {
  readonly #lru: LRUCache<string, Entry>;
  /** The last touch (event or write) of each key touched while fills were in flight. */
  readonly #touched = new Map<string, number>();
  /** Fills in flight, by the sequence number they started at. */
  readonly #open = new Map<number, number>();
  #sequence = 0;
  #epoch = 0;

  readonly #listener: TouchListener | undefined;

  constructor(maxBytes: number, listener?: TouchListener) {
    this.#listener = listener;
    this.#lru = new LRUCache<string, Entry>({
      maxSize: maxBytes,
      sizeCalculation: (entry, key) => Math.min(sizeOf(key, entry), maxBytes),
    });
  }

  /** The entry under `key`, unless it expired. */
  get(key: string, now = Date.now()): Entry | undefined {
    const entry = this.#lru.get(key);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= now) {
      this.#lru.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Whether an entry is held under `key` (without making it recently used). */
  has(key: string): boolean {
    return this.#lru.has(key);
  }

  /**
   * Sets `key` from an event or a write (a touch: fills in flight that read
   * it must not store their answer). Returns whether an entry was replaced.
   */
  apply(key: string, entry: Entry, source: Exclude<Source, "fill">): boolean {
    this.touch(key);
    const existing = this.#lru.get(key);
    if (!mayReplace(existing, entry, source, Date.now())) return false;
    this.#lru.set(key, entry);
    return existing !== undefined;
  }

  /** Removes `key` and marks it touched (a write whose revision is unknown). */
  evict(key: string): void {
    this.touch(key);
    this.#lru.delete(key);
  }

  /** Marks `key` as changed now, for the fills in flight. */
  touch(key: string): void {
    this.#sequence++;
    if (this.#open.size > 0) this.#touched.set(key, this.#sequence);
    this.#listener?.touched(key);
  }

  /** Starts tracking a fill sent now, when every change up to `applied` had been applied. */
  open(applied: bigint): FillTicket {
    const sequence = this.#sequence;
    this.#open.set(sequence, (this.#open.get(sequence) ?? 0) + 1);
    return { revision: applied, sequence, epoch: this.#epoch };
  }

  /** Stops tracking a fill (answered or failed). */
  close(ticket: FillTicket): void {
    const left = (this.#open.get(ticket.sequence) ?? 1) - 1;
    if (left > 0) this.#open.set(ticket.sequence, left);
    else this.#open.delete(ticket.sequence);
    if (this.#open.size === 0) this.#touched.clear();
    else if (this.#touched.size > 1024) this.#prune();
  }

  /**
   * Stores a fill's answer under `key` unless the key was touched since the
   * fill was sent, the cache was reset, or a newer entry is held. Returns
   * whether it was stored.
   */
  fill(key: string, entry: Entry, ticket: FillTicket): boolean {
    if (ticket.epoch !== this.#epoch) return false;
    if ((this.#touched.get(key) ?? -1) > ticket.sequence) return false;
    if (!mayReplace(this.#lru.get(key), entry, "fill", Date.now())) return false;
    this.#lru.set(key, entry);
    return true;
  }

  /** Removes every entry; fills in flight will not store their answers. */
  clear(): void {
    this.#epoch++;
    this.#lru.clear();
    this.#listener?.cleared();
  }

  /** Bytes held (estimated). */
  get bytes(): number {
    return this.#lru.calculatedSize;
  }

  /** Entries held. */
  get size(): number {
    return this.#lru.size;
  }

  /** Drops touches no fill in flight can be affected by. */
  #prune(): void {
    const oldest = Math.min(...this.#open.keys());
    for (const [key, sequence] of this.#touched) if (sequence <= oldest) this.#touched.delete(key);
  }
}
