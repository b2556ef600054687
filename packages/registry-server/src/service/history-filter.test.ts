import { describe, expect, it } from "vitest";
import { FilterSyntaxError } from "../filter/parse";
import { parseHistoryFilter } from "./history-filter";

/** 2026-11-30T00:00:00Z in microseconds. */
const NOV_30 = Date.UTC(2026, 10, 30) * 1000;

function rejection(filter: string): FilterSyntaxError {
  try {
    parseHistoryFilter(filter);
  } catch (error) {
    if (error instanceof FilterSyntaxError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(filter)} to be rejected`);
}

describe("parseHistoryFilter", () => {
  it("reads every field of the ListModelHistory filter, joined by AND", () => {
    expect(
      parseHistoryFilter(
        'actor = "ci-bot" AND type = ALIAS_SET AND commit_time >= "2026-11-30T00:00:00Z" AND refused = false',
      ),
    ).toEqual({
      actor: "ci-bot",
      types: ["alias_set"],
      refused: false,
      fromTime: NOV_30,
      toTime: undefined,
      empty: false,
    });
  });

  it("narrows types with != and keeps every type when nothing is said", () => {
    expect(parseHistoryFilter("").types).toBeUndefined();
    expect(parseHistoryFilter("type != CREATED AND type != UPDATED").types).toEqual([
      "deleted",
      "alias_set",
      "alias_deleted",
    ]);
    expect(parseHistoryFilter("type = CREATED AND type = DELETED").empty).toBe(true);
  });

  it("turns commit_time comparisons into an inclusive range of whole microseconds", () => {
    const at = '"2026-11-30T00:00:00Z"';
    expect(parseHistoryFilter(`commit_time > ${at}`)).toMatchObject({ fromTime: NOV_30 + 1 });
    expect(parseHistoryFilter(`commit_time >= ${at}`)).toMatchObject({ fromTime: NOV_30 });
    expect(parseHistoryFilter(`commit_time < ${at}`)).toMatchObject({ toTime: NOV_30 - 1 });
    expect(parseHistoryFilter(`commit_time <= ${at}`)).toMatchObject({ toTime: NOV_30 });
    expect(parseHistoryFilter(`commit_time = ${at}`)).toMatchObject({ fromTime: NOV_30, toTime: NOV_30 });
    // Between two microseconds: nothing is committed exactly then.
    expect(parseHistoryFilter('commit_time = "2026-11-30T00:00:00.0000005Z"').empty).toBe(true);
    expect(parseHistoryFilter('commit_time > "2026-11-30T00:00:00.0000005Z"')).toMatchObject({
      fromTime: NOV_30 + 1,
    });
    expect(parseHistoryFilter(`commit_time > ${at} AND commit_time < ${at}`).empty).toBe(true);
  });

  it("takes the first and last instants the server can compare", () => {
    expect(parseHistoryFilter('commit_time <= "2255-06-05T23:47:34.740991Z"').toTime).toBe(
      Number.MAX_SAFE_INTEGER,
    );
    expect(parseHistoryFilter('commit_time >= "1684-07-28T00:12:25.259009Z"').fromTime).toBe(
      -Number.MAX_SAFE_INTEGER,
    );
  });

  it("reads refused = true and refused != true", () => {
    expect(parseHistoryFilter("refused = true").refused).toBe(true);
    expect(parseHistoryFilter("refused != true").refused).toBe(false);
    expect(parseHistoryFilter("refused = true AND refused = false").empty).toBe(true);
  });

  it.each<[string, number, string]>([
    ["who = x", 0, 'unknown field "who"; the fields are actor, type, commit_time, refused'],
    ['actor != "x"', 6, "actor can be compared only with ="],
    [
      "type = MOVED",
      7,
      'unknown type "MOVED"; the types are CREATED, UPDATED, DELETED, ALIAS_SET, ALIAS_DELETED',
    ],
    ["refused = yes", 10, "refused is compared with true or false"],
    [
      "commit_time >= yesterday",
      15,
      'expected an RFC 3339 timestamp such as "2026-11-30T00:00:00Z" after commit_time (quote it: timestamps contain ":")',
    ],
    [
      'actor = "x" OR actor = "y"',
      12,
      "expected AND or the end of the filter (only AND joins restrictions here)",
    ],
    [
      'commit_time < "2255-06-05T23:47:34.740992Z"',
      14,
      'commit_time "2255-06-05T23:47:34.740992Z" is outside the times this server can compare, 1684-07-28T00:12:25.259009Z to 2255-06-05T23:47:34.740991Z',
    ],
    [
      'commit_time > "1684-07-28T01:12:25.259008+01:00"',
      14,
      'commit_time "1684-07-28T01:12:25.259008+01:00" is outside the times this server can compare, 1684-07-28T00:12:25.259009Z to 2255-06-05T23:47:34.740991Z',
    ],
    ["actor =", 7, 'expected a value after "="'],
    ['actor = "x" AND', 15, "expected a restriction after AND"],
    ['actor = "x', 8, 'expected a closing " for the string that starts'],
  ])("rejects %j at position %i", (filter, position, message) => {
    const error = rejection(filter);
    expect([error.position, error.description]).toEqual([position, `${message} at position ${position}`]);
  });
});
