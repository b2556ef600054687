// Lists models, optionally filtered: npm run list -w @modelreg/example-scripts -- 'framework = pytorch AND tags:production'
import { withClient } from "./connect";

const filter = process.argv[2] ?? "";

await withClient(async (client) => {
  let count = 0;
  for await (const model of client.listAllModels({ filter, orderBy: "name, version", pageSize: 100 })) {
    count++;
    const tags = model.tags.length > 0 ? ` [${model.tags.join(", ")}]` : "";
    console.log(`${model.name}@${model.version}  ${model.framework || "-"}  ${model.id}${tags}`);
  }
  console.log(`${count} model${count === 1 ? "" : "s"}${filter ? ` matching ${filter}` : ""}`);
});
