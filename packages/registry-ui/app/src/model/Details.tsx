/** The Details section: every field of one version, lineage parents as links. */
import { useEffect, useState } from "preact/hooks";
import { getModel } from "../api/registry";
import type { Model } from "../api/types";
import { Badge } from "../components/Badge";
import { Time } from "../components/Time";
import { hrefOf } from "../router";
import { metadataEntries } from "./format";

/** Props of {@link Details}. */
export interface DetailsProps {
  readonly model: Model;
  /** Changed by someone else while shown. */
  readonly changed: boolean;
}

function CopyButton({ text, label }: { readonly text: string; readonly label: string }) {
  const [copied, setCopied] = useState(false);
  const copy = () => {
    navigator.clipboard?.writeText(text).then(
      () => setCopied(true),
      () => setCopied(false),
    );
  };
  return (
    <button type="button" class="mp-small" onClick={copy} aria-label={label}>
      {copied ? "Copied" : "Copy"}
    </button>
  );
}

/** A link to a parent model, named `<name> <version>` once loaded (its id until then, or if it is gone). */
function ParentLink({ id }: { readonly id: string }) {
  const [label, setLabel] = useState(id);
  useEffect(() => {
    const abort = new AbortController();
    getModel(id, abort.signal).then(
      (parent) => setLabel(`${parent.name} ${parent.version}`),
      () => setLabel(id),
    );
    return () => abort.abort();
  }, [id]);
  return (
    <a href={hrefOf({ page: "model", id })} title={id}>
      {label}
    </a>
  );
}

function Empty() {
  return <span class="mp-muted">—</span>;
}

function Lineage({ model }: { readonly model: Model }) {
  const lineage = model.lineage;
  return (
    <>
      <dt>Run URI</dt>
      <dd>{lineage?.runUri ? <code>{lineage.runUri}</code> : <Empty />}</dd>
      <dt>Code revision</dt>
      <dd>{lineage?.codeRevision ? <code>{lineage.codeRevision}</code> : <Empty />}</dd>
      <dt>Datasets</dt>
      <dd>
        {lineage?.datasetUris.length ? (
          <ul class="mp-plain">
            {lineage.datasetUris.map((uri) => (
              <li key={uri}>
                <code>{uri}</code>
              </li>
            ))}
          </ul>
        ) : (
          <Empty />
        )}
      </dd>
      <dt>Parent models</dt>
      <dd>
        {lineage?.parentModelIds.length ? (
          <ul class="mp-plain">
            {lineage.parentModelIds.map((parent) => (
              <li key={parent}>
                <ParentLink id={parent} />
              </li>
            ))}
          </ul>
        ) : (
          <Empty />
        )}
      </dd>
    </>
  );
}

/** The version's fields as a `<dl>`. */
export function Details({ model, changed }: DetailsProps) {
  const metadata = metadataEntries(model.metadata);
  return (
    <section aria-labelledby="details-heading" class="mp-section" data-live={changed ? "changed" : undefined}>
      <h2 id="details-heading">Details</h2>
      {changed ? (
        <p class="mp-changed">
          <Badge text="changed" /> by someone else while you were looking.
        </p>
      ) : null}
      <dl class="mp-fields">
        <dt>Framework</dt>
        <dd>{model.framework || <Empty />}</dd>
        <dt>Description</dt>
        <dd class="mp-description">{model.description || <Empty />}</dd>
        <dt>Tags</dt>
        <dd>
          {model.tags.length ? (
            <ul class="mp-tags">
              {model.tags.map((tag) => (
                <li key={tag}>{tag}</li>
              ))}
            </ul>
          ) : (
            <Empty />
          )}
        </dd>
        <dt>Metadata</dt>
        <dd>
          {metadata.length ? (
            <ul class="mp-plain">
              {metadata.map(([key, value]) => (
                <li key={key}>
                  <code>{key}</code> = <code>{value}</code>
                </li>
              ))}
            </ul>
          ) : (
            <Empty />
          )}
        </dd>
        <dt>Artifact URI</dt>
        <dd>{model.artifactUri ? <code>{model.artifactUri}</code> : <Empty />}</dd>
        <dt>Artifact digest</dt>
        <dd>
          {model.artifactDigest ? (
            <>
              <code class="mp-digest">{model.artifactDigest}</code>{" "}
              <CopyButton text={model.artifactDigest} label="Copy artifact digest" />
            </>
          ) : (
            <Empty />
          )}
        </dd>
        <Lineage model={model} />
        <dt>Etag</dt>
        <dd>
          <code>{model.etag}</code>
        </dd>
        <dt>Created</dt>
        <dd>
          <Time value={model.createTime} />
        </dd>
        <dt>Updated</dt>
        <dd>
          <Time value={model.updateTime} />
        </dd>
      </dl>
    </section>
  );
}
