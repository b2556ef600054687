/**
 * Redis as the shared level (L2) of the client's cache, through ioredis (an
 * optional peer dependency: loaded when a store is created, so importing
 * `@modelreg/registry-client/redis` never fails for want of it).
 */
import { createRequire } from "node:module";
import { Code, type Logger, RegistryError } from "@modelreg/proto";
import type { Redis, RedisOptions } from "ioredis";
import {
  decodeEntry,
  encodeEntry,
  markAppliedScript,
  maxRevision,
  setIfNewerScript,
} from "./redis-store-scripts";
import type { SharedCacheEntry, SharedCacheStore, SharedCacheWrite } from "./types";

/** Options of {@link createRedisCacheStore}: exactly one of `url` and `client`. */
export interface RedisCacheStoreOptions {
  /**
   * The Redis server, `redis://[[user]:password@]host[:port][/db]` (or
   * `rediss://` for TLS). The store opens its own connection, with settings
   * for a cache (fail fast while disconnected, reconnect forever), and
   * closes it on `close()`. The password never appears in errors or logs.
   */
  url?: string;
  /**
   * A connection of your own instead of `url`: the store uses it as it is
   * configured (give it `enableOfflineQueue: false` and a `commandTimeout`
   * so that calls fail fast while Redis is away) and never closes it.
   */
  client?: Redis;
  /** Prefix of every key the store writes. Default `"modelreg:cache:v1:"`. */
  keyPrefix?: string;
  /** With `url`: a command without a reply after this many ms fails. Default 1000. */
  commandTimeoutMs?: number;
  /** With `url`: a connection attempt gives up after this many ms (then the next one starts). Default 2000. */
  connectTimeoutMs?: number;
  /** With `url`: the longest wait between two reconnection attempts, in ms. Default 2000. */
  maxReconnectDelayMs?: number;
  /** With `url`: where a lost and a regained connection are logged (once each per outage); default none. */
  logger?: Logger;
}

/** A {@link SharedCacheStore} in Redis, made by {@link createRedisCacheStore}. */
export interface RedisCacheStore extends SharedCacheStore {
  /** The prefix of every key the store writes. */
  readonly keyPrefix: string;
}

const defaultKeyPrefix = "modelreg:cache:v1:";
/** Writes per script call; a larger `set` sends several calls in one pipeline (still one round trip). */
const writesPerScript = 512;
/** Keys asked for per SCAN step (and removed per UNLINK) by `clear()`. */
const clearBatch = 1000;

/** The custom commands the store defines on its connection (`defineCommand`). */
interface StoreCommands {
  modelregCacheSetIfNewer(numberOfKeys: number, ...args: (string | Buffer | number)[]): Promise<number>;
  modelregCacheMarkApplied(key: string, revision: string): Promise<number>;
}
type StoreClient = Redis & StoreCommands;

/**
 * A shared cache level (L2) in Redis, for `createRegistryClient({ cache: {
 * shared } })`: every client process that points at the same Redis and
 * prefix shares its entries. Needs `ioredis` installed.
 *
 * Entries live under `<keyPrefix>e:<key>`, the applied revision under
 * `<keyPrefix>applied`. `set` is one Lua script per call (set-if-newer per
 * key, with a PX expiry), `get` one MGET; `clear()` removes every key under
 * the prefix (SCAN + UNLINK in batches; never FLUSHDB).
 *
 * @throws TypeError naming the option that is wrong; a RegistryError
 * (FAILED_PRECONDITION) when `url` is given and ioredis is not installed.
 */
export function createRedisCacheStore(options: RedisCacheStoreOptions): RedisCacheStore {
  const settings = checkOptions(options);
  if (options.client) return new RedisStore(options.client, false, settings.keyPrefix, undefined);
  const url = options.url as string;
  const RedisClass = loadIoredis();
  const client = new RedisClass(url, connectionOptions(settings));
  return new RedisStore(client, true, settings.keyPrefix, {
    where: describeRedisUrl(url),
    logger: options.logger,
  });
}

interface Settings {
  readonly keyPrefix: string;
  readonly commandTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxReconnectDelayMs: number;
}

/** The ioredis settings of a connection the store owns: a cache's, not a database's. */
function connectionOptions(settings: Settings): RedisOptions {
  return {
    // Fail at once while disconnected instead of queueing: the cache goes on without L2.
    enableOfflineQueue: false,
    // A command the lost connection did not answer fails when it is lost, not after reconnecting.
    maxRetriesPerRequest: 0,
    commandTimeout: settings.commandTimeoutMs,
    connectTimeout: settings.connectTimeoutMs,
    // Reconnect forever, 50 ms doubling up to the cap, with jitter so that many processes spread out.
    retryStrategy: (times) =>
      Math.round(
        Math.min(settings.maxReconnectDelayMs, 50 * 2 ** Math.min(times, 16)) * (0.8 + Math.random() * 0.2),
      ),
    // Connect on first use, so creating a store (at import time, say) opens no socket.
    lazyConnect: true,
    connectionName: "modelreg-cache",
  };
}

/** Validates the options, naming the one that is wrong; the URL itself never appears in a message. */
function checkOptions(options: RedisCacheStoreOptions): Settings {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("createRedisCacheStore(options): options must be an object with `url` or `client`");
  }
  const { url, client } = options;
  if ((url === undefined) === (client === undefined)) {
    throw new TypeError(
      "createRedisCacheStore: give exactly one of options.url (redis://host:6379/0) and options.client",
    );
  }
  if (url !== undefined) checkUrl(url);
  if (
    client !== undefined &&
    (typeof client !== "object" || client === null || !("defineCommand" in client))
  ) {
    throw new TypeError("createRedisCacheStore: options.client must be an ioredis Redis instance");
  }
  const keyPrefix = options.keyPrefix ?? defaultKeyPrefix;
  if (typeof keyPrefix !== "string" || keyPrefix.length === 0 || keyPrefix.length > 200) {
    throw new TypeError(
      "createRedisCacheStore: options.keyPrefix must be a non-empty string of at most 200 characters",
    );
  }
  return {
    keyPrefix,
    commandTimeoutMs: positiveMs(options, "commandTimeoutMs", 1000),
    connectTimeoutMs: positiveMs(options, "connectTimeoutMs", 2000),
    maxReconnectDelayMs: positiveMs(options, "maxReconnectDelayMs", 2000),
  };
}

function checkUrl(url: unknown): void {
  const usage = "(expected redis://[[user]:password@]host[:port][/db] or rediss://...)";
  if (typeof url !== "string")
    throw new TypeError(`createRedisCacheStore: options.url must be a string ${usage}`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`createRedisCacheStore: options.url is not a valid URL ${usage}`);
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new TypeError(
      `createRedisCacheStore: options.url must use redis: or rediss:, not ${parsed.protocol} ${usage}`,
    );
  }
  if (!parsed.hostname) throw new TypeError(`createRedisCacheStore: options.url has no host ${usage}`);
  if (!/^\/?(\d+)?$/.test(parsed.pathname)) {
    throw new TypeError(
      `createRedisCacheStore: options.url's path must be a database number, such as /0 ${usage}`,
    );
  }
}

function positiveMs(
  options: RedisCacheStoreOptions,
  name: keyof Settings & keyof RedisCacheStoreOptions,
  fallback: number,
): number {
  const value = options[name] ?? fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
    throw new TypeError(`createRedisCacheStore: options.${name} must be a positive integer (milliseconds)`);
  }
  if (options.client !== undefined && options[name] !== undefined) {
    throw new TypeError(
      `createRedisCacheStore: options.${name} applies only with options.url (configure your client)`,
    );
  }
  return value;
}

/** `host:port/db` of a Redis URL: no user, no password. */
function describeRedisUrl(url: string): string {
  const parsed = new URL(url);
  const db = parsed.pathname.replace(/^\//, "") || "0";
  return `${parsed.protocol}//${parsed.hostname}:${parsed.port || "6379"}/${db}`;
}

/** The ioredis class, loaded when first needed (it is an optional peer dependency). */
function loadIoredis(): typeof Redis {
  const load = createRequire(import.meta.url);
  let loaded: { default?: typeof Redis; Redis?: typeof Redis };
  try {
    loaded = load("ioredis");
  } catch (error) {
    throw new RegistryError(
      Code.FAILED_PRECONDITION,
      "@modelreg/registry-client/redis needs the ioredis package, an optional peer dependency: npm install ioredis",
      { reason: "IOREDIS_MISSING", cause: error },
    );
  }
  const RedisClass = loaded.Redis ?? loaded.default;
  if (typeof RedisClass !== "function") {
    throw new RegistryError(
      Code.FAILED_PRECONDITION,
      "the installed ioredis exports no Redis class: install ioredis 5 or 6",
    );
  }
  return RedisClass;
}

/** Where the store's own connection goes, for its messages, and the logger they go to. */
interface Reporting {
  readonly where: string;
  readonly logger: Logger | undefined;
}

/** The store; `owned`: it made the connection (and so connects it lazily, watches and closes it). */
class RedisStore implements RedisCacheStore {
  readonly keyPrefix: string;
  readonly #client: StoreClient;
  readonly #owned: boolean;
  readonly #where: string;
  readonly #appliedKey: string;
  readonly #logger: Logger | undefined;
  #connecting: Promise<void> | undefined;
  #closed = false;
  /** Counts the connection's "ready" events: each new connection is checked once before use. */
  #connection = 0;
  #checked = -1;
  #checking: Promise<void> | undefined;
  /** The run_id of the server the store last talked to. */
  #runId: string | undefined;

  constructor(client: Redis, owned: boolean, keyPrefix: string, reporting: Reporting | undefined) {
    client.defineCommand("modelregCacheSetIfNewer", { lua: setIfNewerScript });
    client.defineCommand("modelregCacheMarkApplied", { numberOfKeys: 1, lua: markAppliedScript });
    this.#client = client as StoreClient;
    this.#owned = owned;
    this.keyPrefix = keyPrefix;
    this.#appliedKey = `${keyPrefix}applied`;
    this.#where = reporting?.where ?? "given client";
    this.#logger = reporting?.logger;
    client.on("ready", () => {
      this.#connection++;
    });
    if (reporting) reportConnection(client, reporting, () => this.#closed);
  }

  async get(keys: readonly string[]): Promise<(SharedCacheEntry | undefined)[]> {
    if (keys.length === 0) return [];
    const stored = keys.map((key, i) => this.#entryKey(key, `keys[${i}]`));
    const values = await this.#run("get", (client) => client.mgetBuffer(stored));
    return values.map(decodeEntry);
  }

  async set(writes: readonly SharedCacheWrite[]): Promise<void> {
    if (writes.length === 0) return;
    // Change events in one group; fills by revision (each group dropped if below the applied revision).
    const groups = new Map<string, { write: SharedCacheWrite; index: number }[]>();
    writes.forEach((write, index) => {
      const floor =
        write?.fill === true && typeof write.revision === "bigint" ? write.revision.toString() : "";
      groups.set(floor, [...(groups.get(floor) ?? []), { write, index }]);
    });
    const calls: (string | Buffer | number)[][] = [];
    for (const [floor, group] of groups) {
      for (let start = 0; start < group.length; start += writesPerScript) {
        const chunk = group.slice(start, start + writesPerScript);
        const keys = chunk.map(({ write, index }) => this.#entryKey(write?.key, `writes[${index}].key`));
        const values = chunk.flatMap(({ write, index }) => checkedWrite(write, index));
        calls.push([chunk.length + 1, this.#appliedKey, ...keys, floor, ...values]);
      }
    }
    await this.#run("set", async (client) => {
      const [only, ...more] = calls;
      if (only && more.length === 0)
        return void (await client.modelregCacheSetIfNewer(...(only as [number])));
      const pipeline = client.pipeline() as unknown as StoreCommands & {
        exec(): Promise<[Error | null, unknown][] | null>;
      };
      for (const call of calls) pipeline.modelregCacheSetIfNewer(...(call as [number]));
      for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
    });
  }

  async appliedRevision(): Promise<bigint | undefined> {
    const value = await this.#run("appliedRevision", (client) => client.get(this.#appliedKey));
    return value !== null && /^\d{1,20}$/.test(value) ? BigInt(value) : undefined;
  }

  async markApplied(revision: bigint): Promise<void> {
    if (typeof revision !== "bigint" || revision < 0n || revision > maxRevision) {
      throw new TypeError("markApplied: revision must be a bigint from 0 to 2^64-1");
    }
    await this.#run("markApplied", (client) =>
      client.modelregCacheMarkApplied(this.#appliedKey, revision.toString()),
    );
  }

  async clear(): Promise<void> {
    await this.#run("clear", () => this.#removeAll());
  }

  async #removeAll(): Promise<void> {
    const client = this.#client;
    // The applied revision goes first: no process trusts the entries while they are being removed.
    await client.unlink(this.#appliedKey);
    // A client's own ioredis keyPrefix is added to keys it is given, not to SCAN's pattern or answers.
    const clientPrefix = Buffer.from(client.options.keyPrefix ?? "");
    const pattern = `${escapeGlob(clientPrefix.toString() + this.keyPrefix)}*`;
    let cursor = "0";
    do {
      const [next, found] = await client.scanBuffer(cursor, "MATCH", pattern, "COUNT", clearBatch);
      if (found.length > 0) await client.unlink(...found.map((key) => key.subarray(clientPrefix.byteLength)));
      cursor = next.toString();
    } while (cursor !== "0");
  }

  /**
   * Before the first command on each new connection: a server with another
   * run_id than the last one (restarted, or a replica promoted) may have lost
   * writes it had acknowledged (an older snapshot, asynchronous replication),
   * so entries older than what was written could answer. The store clears
   * its keys then, before any call uses them.
   */
  async #checkServer(): Promise<void> {
    const connection = this.#connection;
    const runId = await this.#client.info("server").then(
      (info) => /run_id:(\w+)/.exec(info)?.[1],
      (error: Error) => {
        // A server whose ACL refuses INFO (some providers) cannot be checked; any other failure is the call's.
        if (error.name === "ReplyError") return undefined;
        throw error;
      },
    );
    if (this.#runId !== undefined && runId !== this.#runId) {
      await this.#removeAll();
      this.#logger?.warn(
        { redis: this.#where },
        "Redis cache store: the server restarted or failed over (a new run_id) and may have lost writes; " +
          "cleared its entries",
      );
    }
    this.#runId = runId;
    this.#checked = connection;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#owned) return;
    if (this.#client.status === "ready") await this.#client.quit().catch(() => {});
    this.#client.disconnect();
  }

  #entryKey(key: unknown, field: string): string {
    if (typeof key !== "string" || key.length === 0)
      throw new TypeError(`${field} must be a non-empty string`);
    return `${this.keyPrefix}e:${key}`;
  }

  /** Runs `command` on a connected client; a failure is a RegistryError UNAVAILABLE naming the store, never its URL. */
  async #run<T>(operation: string, command: (client: StoreClient) => Promise<T>): Promise<T> {
    if (this.#closed) {
      throw new RegistryError(Code.FAILED_PRECONDITION, `Redis cache store: ${operation} after close()`);
    }
    try {
      if (this.#owned && this.#client.status === "wait") {
        this.#connecting ??= this.#client.connect().finally(() => {
          this.#connecting = undefined;
        });
      }
      if (this.#connecting) await this.#connecting;
      if (this.#checked !== this.#connection) {
        this.#checking ??= this.#checkServer().finally(() => {
          this.#checking = undefined;
        });
        await this.#checking;
      }
      return await command(this.#client);
    } catch (error) {
      if (error instanceof TypeError) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new RegistryError(
        Code.UNAVAILABLE,
        `Redis cache store (${this.#where}): ${operation} failed: ${reason}`,
        {
          reason: "SHARED_CACHE_UNAVAILABLE",
          cause: error,
        },
      );
    }
  }
}

/** The stored value and PX of one write, checked (a TypeError naming the field). */
function checkedWrite(write: SharedCacheWrite, index: number): [Buffer, number] {
  const field = `writes[${index}]`;
  const { revision, data, ttlMs } = write;
  if (typeof revision !== "bigint" || revision < 0n || revision > maxRevision) {
    throw new TypeError(`set: ${field}.revision must be a bigint from 0 to 2^64-1`);
  }
  if (!(data instanceof Uint8Array)) throw new TypeError(`set: ${field}.data must be a Uint8Array`);
  if (typeof ttlMs !== "number" || !(ttlMs > 0) || !Number.isFinite(ttlMs)) {
    throw new TypeError(`set: ${field}.ttlMs must be a positive number of milliseconds`);
  }
  return [encodeEntry(revision, data), Math.ceil(ttlMs)];
}

/** `pattern` matching `text` literally in a Redis glob (SCAN MATCH). */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}

/**
 * Logs a lost connection once per outage (warn) and its return (info). The
 * listener is there even without a logger: ioredis prints unhandled
 * connection errors to the console otherwise.
 */
function reportConnection(client: Redis, { where, logger }: Reporting, closed: () => boolean): void {
  let down = false;
  const lost = (reason: string) => {
    if (down || closed()) return;
    down = true;
    logger?.warn(
      { redis: where, error: reason },
      "Redis cache store unreachable: the cache goes on without its shared level while it reconnects",
    );
  };
  client.on("error", (error: Error) => lost(error.message));
  client.on("close", () => lost("connection closed"));
  client.on("ready", () => {
    if (!down) return;
    down = false;
    logger?.info({ redis: where }, "Redis cache store reachable again");
  });
}
