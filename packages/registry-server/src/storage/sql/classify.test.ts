import { describe, expect, it } from "vitest";
import { classifyMysqlError, classifyPostgresError } from "./classify";

const withCode = (code: string, message = "x") => Object.assign(new Error(message), { code });
const mysqlError = (errno: number, code?: string) => Object.assign(new Error("x"), { errno, code });

describe("classifyPostgresError", () => {
  it.each([
    ["unique violation 23505", withCode("23505"), "uniqueViolation"],
    ["connection refused", withCode("ECONNREFUSED"), "unavailable"],
    ["connection reset", withCode("ECONNRESET"), "unavailable"],
    ["admin shutdown 57P01", withCode("57P01"), "unavailable"],
    ["crash shutdown 57P02", withCode("57P02"), "unavailable"],
    ["starting up 57P03", withCode("57P03"), "unavailable"],
    ["connection exception 08006", withCode("08006"), "unavailable"],
    ["too many connections 53300", withCode("53300"), "unavailable"],
    ["terminated (no code)", new Error("Connection terminated unexpectedly"), "unavailable"],
    ["pool timeout (no code)", new Error("timeout exceeded when trying to connect"), "unavailable"],
    [
      "happy eyeballs AggregateError",
      Object.assign(new AggregateError([withCode("ECONNREFUSED"), withCode("ECONNREFUSED")]), {
        code: "ECONNREFUSED",
      }),
      "unavailable",
    ],
    [
      "refused, as a cause",
      new Error("migration failed", { cause: withCode("ECONNREFUSED") }),
      "unavailable",
    ],
    ["serialization failure 40001", withCode("40001"), "retryable"],
    ["deadlock 40P01", withCode("40P01"), "retryable"],
    ["lock timeout 55P03", withCode("55P03"), "retryable"],
    ["statement timeout 57014", withCode("57014", "canceling statement due to statement timeout"), "timeout"],
    [
      "cancelled by an administrator 57014",
      withCode("57014", "canceling statement due to user request"),
      "unavailable",
    ],
    ["syntax error 42601", withCode("42601"), undefined],
    ["not-null violation 23502", withCode("23502"), undefined],
    ["a plain error", new Error("boom"), undefined],
    ["a code-less message that only looks alike", withCode("42P01", "Connection terminated"), undefined],
    ["not an error", "Connection terminated", undefined],
  ])("%s", (_, error, expected) => {
    expect(classifyPostgresError(error)).toBe(expected);
  });
});

describe("classifyMysqlError", () => {
  it.each([
    ["ER_DUP_ENTRY 1062", mysqlError(1062, "ER_DUP_ENTRY"), "uniqueViolation"],
    ["connection refused", withCode("ECONNREFUSED"), "unavailable"],
    ["connection lost", withCode("PROTOCOL_CONNECTION_LOST"), "unavailable"],
    ["too many connections 1040", mysqlError(1040, "ER_CON_COUNT_ERROR"), "unavailable"],
    ["server shutdown 1053", mysqlError(1053, "ER_SERVER_SHUTDOWN"), "unavailable"],
    ["killed (MariaDB 1927, no code name)", mysqlError(1927), "unavailable"],
    ["deadlock 1213", mysqlError(1213, "ER_LOCK_DEADLOCK"), "retryable"],
    ["lock wait timeout 1205", mysqlError(1205, "ER_LOCK_WAIT_TIMEOUT"), "retryable"],
    ["statement timeout (MariaDB 1969)", mysqlError(1969), "timeout"],
    ["statement timeout (MySQL 3024)", mysqlError(3024, "ER_QUERY_TIMEOUT"), "timeout"],
    [
      "a closed connection",
      new Error("Can't add new command when connection is in closed state"),
      "unavailable",
    ],
    ["syntax error 1064", mysqlError(1064, "ER_PARSE_ERROR"), undefined],
    ["data too long 1406", mysqlError(1406, "ER_DATA_TOO_LONG"), undefined],
    ["a Node errno is not a MySQL error number", Object.assign(new Error("x"), { errno: -1062 }), undefined],
    ["a plain error", new Error("boom"), undefined],
  ])("%s", (_, error, expected) => {
    expect(classifyMysqlError(error)).toBe(expected);
  });
});
