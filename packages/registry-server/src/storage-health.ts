import type { Logger } from "@modelreg/proto";
import type { StorageAdapter } from "./storage/adapter";

/** A status the server reports for itself. */
export type ServingStatus = "SERVING" | "NOT_SERVING";

/**
 * Whether the server can serve: SERVING while storage answers its pings
 * (every `intervalMs` once started), NOT_SERVING while it fails and for
 * good once stopped. Tells `onChange` of each change.
 */
export class StorageHealth {
  readonly #storage: StorageAdapter;
  readonly #logger: Logger;
  readonly #onChange: (status: ServingStatus) => void;
  #serving = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(storage: StorageAdapter, logger: Logger, onChange: (status: ServingStatus) => void) {
    this.#storage = storage;
    this.#logger = logger;
    this.#onChange = onChange;
  }

  get serving(): boolean {
    return this.#serving;
  }

  /** Pings storage now, then every `intervalMs`. */
  async start(intervalMs: number): Promise<void> {
    await this.#check();
    if (this.#stopped) return;
    this.#timer = setInterval(() => void this.#check(), intervalMs);
    this.#timer.unref();
  }

  /** NOT_SERVING from now on; pings stop. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#set(false);
  }

  async #check(): Promise<void> {
    try {
      await this.#storage.ping();
      if (!this.#stopped) this.#set(true);
    } catch (error) {
      if (this.#serving) this.#logger.warn({ err: error }, "storage is unreachable");
      this.#set(false);
    }
  }

  #set(value: boolean): void {
    if (this.#serving === value) return;
    this.#serving = value;
    const status = value ? "SERVING" : "NOT_SERVING";
    this.#onChange(status);
    this.#logger.info({ status }, "health status changed");
  }
}
