/**
 * Models for the page's browser tests, created through the registry's own
 * gRPC client (as any other program would), one at a time so that their
 * create times, and so the list's default order, are the order given here.
 */
import type { Model } from "@modelreg/proto";
import type { CallOptions, RegistryClient } from "@modelreg/registry-client";

/** One seeded model as the tests reason about it. */
export interface SeedModel {
  readonly name: string;
  readonly version: string;
  readonly framework: string;
  readonly tags: readonly string[];
}

const frameworks = ["pytorch", "tensorflow", "onnx", "jax", "sklearn"] as const;
const families = ["bert", "resnet", "gpt2", "vit", "xgb", "t5"] as const;

/**
 * The list test's 30 models: six names of five versions each, frameworks
 * and tags spread so that `framework = "pytorch" AND tags:prod` matches a
 * few of them and not the rest (some pytorch without `prod`, some `prod`
 * without pytorch).
 */
export function listModels(): SeedModel[] {
  const models: SeedModel[] = [];
  for (let i = 0; i < 30; i++) {
    const tags = [i % 3 === 0 ? "prod" : "staging", i % 2 === 0 ? "vision" : "nlp"];
    models.push({
      name: families[i % families.length] ?? "bert",
      version: `1.${Math.floor(i / families.length)}.0`,
      framework: frameworks[i % frameworks.length] ?? "pytorch",
      tags,
    });
  }
  return models;
}

/** The models of `models` that `framework = "pytorch" AND tags:prod` selects. */
export function pytorchProd(models: readonly SeedModel[]): SeedModel[] {
  return models.filter((m) => m.framework === "pytorch" && m.tags.includes("prod"));
}

/** Creates `models` in order; returns the created models (with ids) in the same order. */
export async function createAll(
  client: RegistryClient,
  models: readonly SeedModel[],
  options?: CallOptions,
): Promise<Model[]> {
  const created: Model[] = [];
  for (const m of models) {
    created.push(
      await client.createModel(
        {
          model: {
            name: m.name,
            version: m.version,
            framework: m.framework,
            tags: [...m.tags],
            description: `${m.name} ${m.version}, seeded for the page's tests.`,
            artifactUri: `s3://models/${m.name}/${m.version}/model.bin`,
          },
        },
        options,
      ),
    );
  }
  return created;
}

/**
 * A model with everything the model page shows: metadata, lineage (with a
 * parent), a digest. `parentId` is an existing model's id.
 */
export function richModel(name: string, version: string, parentId?: string): Partial<Model> {
  return {
    name,
    version,
    framework: "pytorch",
    description: `The ${name} classifier, fine-tuned.`,
    tags: ["nlp", version.startsWith("1") ? "release" : "candidate"],
    metadata: {
      "eval.auc": version.startsWith("1") ? "0.91" : "0.93",
      owner: "ml-platform",
      ...(version.startsWith("1") ? { "eval.passed": "true" } : {}),
    },
    artifactUri: `s3://models/${name}/${version}/model.pt`,
    artifactDigest: `sha256:${version.replaceAll(".", "").padEnd(64, "a")}`,
    lineage: {
      runUri: `mlflow://runs/${name}-${version}`,
      codeRevision: `git:${version.replaceAll(".", "")}f00d`,
      datasetUris: [`s3://data/${name}/train-2026-11`],
      parentModelIds: parentId === undefined ? [] : [parentId],
    },
  };
}
