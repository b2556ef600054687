import { describe, expect, it } from "vitest";
import { createDatabaseCircuit, isConnectionLimitError, SocketTracker } from "./sql/circuit";

const settings = { probeTimeoutMs: 100, retryIntervalMs: 20 };

/** A circuit whose probe fails with `error`, counting how often the pooled sockets were dropped. */
function circuitFailingWith(error: unknown) {
  const sockets = new SocketTracker();
  let dropped = 0;
  sockets.destroyAll = () => {
    dropped++;
  };
  const circuit = createDatabaseCircuit(settings, { probe: () => Promise.reject(error), sockets });
  return { circuit, dropped: () => dropped };
}

describe("the database circuit", () => {
  it("does not open, nor drop the pool, when the probe is refused for lack of connection slots", async () => {
    const postgres = Object.assign(new Error("sorry, too many clients already"), { code: "53300" });
    const mysql = Object.assign(new Error("Too many connections"), {
      code: "ER_CON_COUNT_ERROR",
      errno: 1040,
    });
    for (const error of [postgres, mysql, new Error("wrapped", { cause: mysql })]) {
      expect(isConnectionLimitError(error)).toBe(true);
      const { circuit, dropped } = circuitFailingWith(error);
      expect(await circuit.probe()).toBe(false);
      expect(circuit.isOpen).toBe(false);
      expect(dropped()).toBe(0);
      await expect(circuit.run(async () => "ran")).resolves.toBe("ran");
      circuit.dispose();
    }
  });

  it("opens, and drops the pool, on a network failure of the probe", async () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    expect(isConnectionLimitError(refused)).toBe(false);
    const { circuit, dropped } = circuitFailingWith(refused);
    expect(await circuit.probe()).toBe(false);
    expect(circuit.isOpen).toBe(true);
    expect(dropped()).toBe(1);
    circuit.dispose();
  });

  it("opens when the probe outlasts its timeout", async () => {
    const circuit = createDatabaseCircuit(settings, {
      probe: () => new Promise<void>(() => {}),
      sockets: new SocketTracker(),
    });
    expect(await circuit.probe()).toBe(false);
    expect(circuit.isOpen).toBe(true);
    circuit.dispose();
  });
});
