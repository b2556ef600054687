// Points an alias at a version, safely: the move is a compare-and-set against
// what the alias pointed at when it was read, so two people promoting at once
// cannot overwrite each other unseen, and a protected alias's refusal prints
// each missing item.
// npm run promote -w @modelreg/example-scripts -- NAME ALIAS VERSION
import { Code, preconditionViolations, RegistryError } from "@modelreg/registry-client";
import { withClient } from "./connect";

const [name, alias, version] = process.argv.slice(2);
if (!name || !alias || !version) {
  console.error("usage: promote NAME ALIAS VERSION");
  process.exit(2);
}

await withClient(async (client) => {
  // "" = the alias must not exist yet, if it does not exist now.
  const current = await client.getModelAlias({ name, alias }).catch((error: unknown) => {
    if (error instanceof RegistryError && error.code === Code.NOT_FOUND) return undefined;
    throw error;
  });
  try {
    const moved = await client.setModelAlias({
      name,
      alias,
      version,
      expectedVersion: current?.version ?? "",
    });
    console.log(
      `${name}@${alias}: ${current?.version ?? "(none)"} -> ${moved.version} by ${moved.updatedBy}`,
    );
  } catch (error) {
    if (!(error instanceof RegistryError)) throw error;
    console.error(`not promoted: ${error.message}`);
    for (const v of preconditionViolations(error)) console.error(`  missing ${v.subject}: ${v.description}`);
    process.exitCode = error.code === Code.ABORTED ? 3 : 1;
  }
});
