import type { Model, ModelLineage } from "@modelreg/proto";
import { type Command, Option } from "commander";
import { CliUsageError } from "../errors";
import { collect, keyValue } from "./options";

type PartialModel = Partial<Omit<Model, "lineage">> & { lineage?: Partial<ModelLineage> };

/** The model field options of `create` and `update`. */
export interface FieldOptions {
  framework?: string;
  description?: string;
  tag?: string[];
  metadata?: string[];
  artifactUri?: string;
  artifactDigest?: string;
  runUri?: string;
  codeRevision?: string;
  datasetUri?: string[];
  parentModelId?: string[];
}

/** `--metadata k=v` values as a map; a key given twice is a usage error. */
export function metadataOf(
  pairs: readonly string[] | undefined,
  option = "--metadata",
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs ?? []) {
    const [key, value] = keyValue(pair, option);
    if (key in out) throw new CliUsageError(`${option} ${key} given twice`);
    out[key] = value;
  }
  return out;
}

/** The model fields options of `create` and `update` (what each sets is in its description). */
export function addFieldOptions(command: Command, forUpdate: boolean): Command {
  const tagHelp = forUpdate
    ? "replace the tags with these (repeatable; see `models tag`)"
    : "a tag (repeatable)";
  return command
    .option("--framework <name>", "framework, for example onnx or pytorch")
    .option("--description <text>", "description")
    .addOption(new Option("--tag <tag>", tagHelp).argParser(collect))
    .addOption(
      new Option(
        "--metadata <key=value>",
        forUpdate ? "replace the metadata (repeatable)" : "a metadata entry (repeatable)",
      ).argParser(collect),
    )
    .option("--artifact-uri <uri>", "where the artifact is (s3://..., gs://..., https://...)")
    .option("--artifact-digest <digest>", "the artifact's digest (sha256:<64 hex>)")
    .option("--run-uri <uri>", "lineage: the training run")
    .option("--code-revision <rev>", "lineage: the code's revision (a commit)")
    .addOption(new Option("--dataset-uri <uri>", "lineage: a dataset (repeatable)").argParser(collect))
    .addOption(
      new Option("--parent-model-id <id>", "lineage: a parent model's id (repeatable)").argParser(collect),
    );
}

/** The model fields the options set, and their update-mask paths. */
export function fieldsOf(o: FieldOptions): { model: PartialModel; paths: string[] } {
  const model: PartialModel = {};
  const paths: string[] = [];
  const set = <K extends keyof PartialModel>(key: K, path: string, value: PartialModel[K] | undefined) => {
    if (value === undefined) return;
    model[key] = value;
    paths.push(path);
  };
  set("framework", "framework", o.framework);
  set("description", "description", o.description);
  set("tags", "tags", o.tag);
  set("metadata", "metadata", o.metadata ? metadataOf(o.metadata) : undefined);
  set("artifactUri", "artifact_uri", o.artifactUri);
  set("artifactDigest", "artifact_digest", o.artifactDigest);
  const lineage: Partial<ModelLineage> = {};
  const setLineage = <K extends keyof ModelLineage>(
    key: K,
    path: string,
    value: ModelLineage[K] | undefined,
  ) => {
    if (value === undefined) return;
    lineage[key] = value;
    paths.push(`lineage.${path}`);
  };
  setLineage("runUri", "run_uri", o.runUri);
  setLineage("codeRevision", "code_revision", o.codeRevision);
  setLineage("datasetUris", "dataset_uris", o.datasetUri);
  setLineage("parentModelIds", "parent_model_ids", o.parentModelId);
  if (Object.keys(lineage).length > 0) model.lineage = lineage;
  return { model, paths };
}
