// Rolls an alias back to the version it pointed at at a past time ("set
// champion to what it was yesterday"), reading the registry's history, then
// prints the alias's last moves with who made them.
// npm run rollback -w @modelreg/example-scripts -- NAME ALIAS TIME
//   TIME: RFC 3339, for example 2026-11-30T12:00:00Z
import { withClient } from "./connect";

const [name, alias, time] = process.argv.slice(2);
const readTime = time ? new Date(time) : undefined;
if (!name || !alias || !readTime || Number.isNaN(readTime.getTime())) {
  console.error("usage: rollback NAME ALIAS TIME (RFC 3339, e.g. 2026-11-30T12:00:00Z)");
  process.exit(2);
}

await withClient(async (client) => {
  const then = await client.resolveAlias(name, alias, { readTime });
  const now = await client.getModelAlias({ name, alias });
  // Compare-and-set: if someone moved the alias since it was read, nothing changes.
  const moved = await client.setModelAlias({
    name,
    alias,
    version: then.version,
    expectedVersion: now.version,
  });
  console.log(`${name}@${alias}: ${now.version} -> ${moved.version} (as at ${readTime.toISOString()})`);
  const { entries } = await client.listModelHistory({ name, alias, pageSize: 5 });
  for (const entry of entries) {
    const to = entry.aliasAfter?.version ?? "(deleted)";
    const refused = entry.refusal ? ` (refused: ${entry.refusal.message})` : "";
    console.log(
      `  #${entry.revision} ${entry.actor}: ${entry.aliasBefore?.version ?? "(none)"} -> ${to}${refused}`,
    );
  }
});
