// Registers a model: npm run register -w @modelreg/example-scripts -- NAME VERSION [FRAMEWORK] [ARTIFACT_URI]
import { randomUUID } from "node:crypto";
import { Code, RegistryError } from "@modelreg/registry-client";
import { withClient } from "./connect";

const [name = "bert-base", version = "1.0.0", framework = "pytorch", artifactUri = ""] =
  process.argv.slice(2);

await withClient(async (client) => {
  try {
    const model = await client.createModel({
      model: { name, version, framework, artifactUri },
      requestId: randomUUID(),
    });
    console.log(`registered ${model.name}@${model.version} as ${model.id} (etag ${model.etag})`);
  } catch (error) {
    if (!(error instanceof RegistryError)) throw error;
    if (error.code === Code.ALREADY_EXISTS) console.log(`${name}@${version} is already registered`);
    else if (error.code === Code.INVALID_ARGUMENT) {
      for (const v of error.violations) console.log(`invalid ${v.field}: ${v.description}`);
      process.exitCode = 2;
    } else throw error;
  }
});
