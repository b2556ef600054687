import type { Duplex } from "node:stream";
import { Code, RegistryError } from "@modelreg/proto";
import { CircuitBreaker } from "../circuit-breaker";
import { MYSQL_TOO_MANY_CONNECTIONS, POSTGRES_TOO_MANY_CONNECTIONS } from "./classify";
import { errorChain, stringCode } from "./errors";

/**
 * Fail-fast settings of the database server adapters (PostgreSQL, MySQL):
 * see "Failing fast when the database is unreachable" in the README.
 */
export interface CircuitBreakerOptions {
  /**
   * How long a probe (`select 1` on a connection of its own, outside the
   * pool) may take before the database counts as unreachable and calls
   * start failing at once. Default 750 ms.
   */
  probeTimeoutMs?: number;
  /**
   * While the database is unreachable, how often a probe tests whether it is
   * back; the first that answers lets calls through again. Default 100 ms.
   */
  retryIntervalMs?: number;
}

/** Validates a duration option: a whole number of milliseconds from 1 to 1 hour. */
export function checkMs(value: unknown, fallback: number, name: string, caller: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1 || value > 3_600_000) {
    throw new TypeError(`${caller}: \`${name}\` must be a whole number of milliseconds from 1 to 3600000`);
  }
  return value;
}

/** The error every call fails with while the database is known to be unreachable. */
export function databaseUnreachable(cause: unknown): RegistryError {
  return new RegistryError(
    Code.UNAVAILABLE,
    "The model database is unreachable; calls fail at once until it answers again. Try again later.",
    { reason: "DATABASE_UNAVAILABLE", cause },
  );
}

/**
 * The sockets of a connection pool's connections (from the driver's
 * `stream` factory or its pool's connect event), so that they can all be dropped at once when the database is
 * found unreachable: a connection that hangs in a partition must not be
 * handed out again, or hold a call, once the network is back.
 */
export class SocketTracker {
  readonly #sockets = new Set<Duplex>();

  /** Records `socket` until it closes; returns it. */
  track<S extends Duplex>(socket: S): S {
    this.#sockets.add(socket);
    socket.once("close", () => this.#sockets.delete(socket));
    return socket;
  }

  /** Destroys every socket: their calls fail, and the pool discards their connections. */
  destroyAll(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }
}

/** What the database server adapters give {@link createDatabaseCircuit}. */
export interface DatabaseCircuitParts {
  /** `select 1` on a connection outside the pool, dropped when `signal` aborts. */
  readonly probe: (signal: AbortSignal) => Promise<void>;
  /** The pool's sockets, all dropped when the circuit opens. */
  readonly sockets: SocketTracker;
}

/** {@link CircuitBreakerOptions} with the defaults filled in. */
export interface CircuitSettings {
  readonly probeTimeoutMs: number;
  readonly retryIntervalMs: number;
}

/** Validates the `circuitBreaker` option (TypeError naming what is wrong) and fills in defaults. */
export function checkCircuitOptions(
  options: CircuitBreakerOptions | undefined,
  caller: string,
): CircuitSettings {
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new TypeError(`${caller}: \`circuitBreaker\` must be an object`);
  }
  return {
    probeTimeoutMs: checkMs(options?.probeTimeoutMs, 750, "circuitBreaker.probeTimeoutMs", caller),
    retryIntervalMs: checkMs(options?.retryIntervalMs, 100, "circuitBreaker.retryIntervalMs", caller),
  };
}

/**
 * PostgreSQL SQLSTATE 53300 (too_many_connections), MySQL / MariaDB
 * ER_CON_COUNT_ERROR (1040) and ER_TOO_MANY_USER_CONNECTIONS (1203): the
 * server answered, it is out of connection slots. Not a partition.
 */
export function isConnectionLimitError(error: unknown): boolean {
  return errorChain(error).some((e) => {
    const code = stringCode(e);
    return (
      code === POSTGRES_TOO_MANY_CONNECTIONS ||
      code === "ER_CON_COUNT_ERROR" ||
      code === "ER_TOO_MANY_USER_CONNECTIONS" ||
      (typeof e.errno === "number" && MYSQL_TOO_MANY_CONNECTIONS.has(e.errno))
    );
  });
}

/**
 * The circuit breaker of a database server adapter: only network-level
 * failures and timeouts of its probe open it; a server out of connection
 * slots is reachable (dropping every pooled connection would make it worse).
 */
export function createDatabaseCircuit(
  settings: CircuitSettings,
  parts: DatabaseCircuitParts,
): CircuitBreaker {
  return new CircuitBreaker({
    ...settings,
    probe: parts.probe,
    openError: databaseUnreachable,
    onOpen: () => parts.sockets.destroyAll(),
    answered: isConnectionLimitError,
  });
}
