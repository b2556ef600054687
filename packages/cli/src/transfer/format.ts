// The export format of `modelreg models export` / `import`: NDJSON, one JSON object per line, each with
// a `kind`. Version 1:
//   {"kind":"modelreg-export","version":1,"exportedAt":"<RFC 3339>","filter":"<filter or empty>"}
//   {"kind":"model","model":<Model, proto3 JSON>,"parents":[{"id","name","version"}]}   (one per model)
//   {"kind":"alias","alias":<ModelAlias, proto3 JSON>}                                  (one per alias)
//   {"kind":"end","models":<count>,"aliases":<count>}
// Models come first, oldest first (create_time; versions of a name sharing one in creation order, from
// the history, else by id), so a lineage parent precedes its children;
// `parents` (only when the model has lineage parents) names them by (name, version), since ids differ
// between registries. A file without the `end` line is a truncated export.
import { Model, ModelAlias } from "@modelreg/proto";

/** The `kind` of an export's first line. */
export const exportKind = "modelreg-export";
/** The export format version this CLI writes and reads. */
export const exportVersion = 1;

/** A lineage parent of an exported model: its source id, and its (name, version) when it still existed. */
export interface ParentRef {
  readonly id: string;
  readonly name?: string;
  readonly version?: string;
}

/** One parsed line of an export. */
export type ExportLine =
  | { readonly kind: "header"; readonly version: number }
  | { readonly kind: "model"; readonly model: Model; readonly parents: readonly ParentRef[] }
  | { readonly kind: "alias"; readonly alias: ModelAlias }
  | { readonly kind: "end"; readonly models: number; readonly aliases: number };

/** A line of the input that is not a valid export line: the import stops there. */
export class ExportFormatError extends Error {
  constructor(
    readonly line: number,
    reason: string,
  ) {
    super(line === 0 ? reason : `line ${line}: ${reason}`);
    this.name = "ExportFormatError";
  }
}

/** The header line. */
export function headerLine(filter: string, exportedAt: Date): string {
  return JSON.stringify({
    kind: exportKind,
    version: exportVersion,
    exportedAt: exportedAt.toISOString(),
    filter,
  });
}

/** The line of one model. */
export function modelLine(model: Model, parents: readonly ParentRef[]): string {
  const line: Record<string, unknown> = { kind: "model", model: Model.toJson(model) };
  if (parents.length > 0) line.parents = parents;
  return JSON.stringify(line);
}

/** The line of one alias. */
export function aliasLine(alias: ModelAlias): string {
  return JSON.stringify({ kind: "alias", alias: ModelAlias.toJson(alias) });
}

/** The last line: what a complete export holds. */
export function endLine(models: number, aliases: number): string {
  return JSON.stringify({ kind: "end", models, aliases });
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0;
}

function parentsOf(value: unknown, line: number): ParentRef[] {
  if (value === undefined) return [];
  const fail = () => new ExportFormatError(line, '"parents" must be a list of {"id","name","version"}');
  if (!Array.isArray(value)) throw fail();
  return value.map((parent: unknown) => {
    if (!isObject(parent) || typeof parent.id !== "string") throw fail();
    const { id, name, version } = parent;
    if (typeof name === "string" && typeof version === "string") return { id, name, version };
    return { id };
  });
}

/** A proto3 JSON message, strictly: a field this CLI does not know is an error rather than lost data. */
function message<T>(decode: (json: JsonObject) => T, value: unknown, what: string, line: number): T {
  if (!isObject(value)) throw new ExportFormatError(line, `"${what}" must be an object`);
  try {
    return decode(value);
  } catch (error) {
    throw new ExportFormatError(line, `"${what}" is not a valid ${what}: ${(error as Error).message}`);
  }
}

/** Parses line `line` (1-based) of an export. Throws {@link ExportFormatError}. */
export function parseExportLine(text: string, line: number): ExportLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ExportFormatError(line, "not JSON");
  }
  if (!isObject(value)) throw new ExportFormatError(line, "not a JSON object");
  switch (value.kind) {
    case exportKind:
      if (value.version !== exportVersion) {
        throw new ExportFormatError(
          line,
          `export format version ${JSON.stringify(value.version)} (this modelreg reads version ${exportVersion})`,
        );
      }
      return { kind: "header", version: exportVersion };
    case "model": {
      const model = message((json) => Model.fromJson(json as never), value.model, "model", line);
      return { kind: "model", model, parents: parentsOf(value.parents, line) };
    }
    case "alias":
      return {
        kind: "alias",
        alias: message((json) => ModelAlias.fromJson(json as never), value.alias, "alias", line),
      };
    case "end":
      if (!isCount(value.models) || !isCount(value.aliases)) {
        throw new ExportFormatError(line, '"end" needs the counts "models" and "aliases"');
      }
      return { kind: "end", models: value.models, aliases: value.aliases };
    default:
      throw new ExportFormatError(line, `unknown "kind" ${JSON.stringify(value.kind)}`);
  }
}
