// Tags a model and sets metadata in place, atomically:
// npm run tag -w @modelreg/example-scripts -- NAME VERSION TAG [KEY=VALUE ...]
import { withClient } from "./connect";

const [name, version, tag, ...pairs] = process.argv.slice(2);
if (!name || !version || !tag) {
  console.error("usage: tag-and-annotate NAME VERSION TAG [KEY=VALUE ...]");
  process.exit(2);
}
const set = Object.fromEntries(pairs.map((pair) => pair.split("=", 2) as [string, string]));

await withClient(async (client) => {
  const model = await client.lookupModel({ name, version });
  const tagged = await client.addModelTags({ id: model.id, tags: [tag] });
  const annotated =
    Object.keys(set).length > 0
      ? await client.updateModelMetadata({ id: model.id, set, etag: tagged.etag })
      : tagged;
  console.log(
    `${annotated.name}@${annotated.version} tags=[${annotated.tags.join(", ")}] metadata=${JSON.stringify(annotated.metadata)}`,
  );
});
