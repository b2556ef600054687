/** One model: fields, versions, aliases, audit trail, promotion. */
import "../model.css";
import { useCallback } from "preact/hooks";
import { quoteFilterValue } from "../api/registry";
import { ErrorNotice } from "../components/ErrorNotice";
import { Aliases } from "../model/Aliases";
import { AuditTrail } from "../model/AuditTrail";
import { Details } from "../model/Details";
import { PromoteForm } from "../model/PromoteForm";
import { useModelData } from "../model/useModelData";
import { Versions } from "../model/Versions";
import { hrefOf } from "../router";
import { useDocumentTitle } from "../shell/title";

/** Props of {@link ModelPage}. */
export interface ModelPageProps {
  readonly id: string;
}

/** The model page. */
export function ModelPage({ id }: ModelPageProps) {
  const data = useModelData(id);
  const { model, reloadAliases, reloadTrail } = data;
  useDocumentTitle(model === undefined ? "Model" : `${model.name} ${model.version}`);
  const refresh = useCallback(() => {
    reloadAliases().catch(() => undefined);
    reloadTrail().catch(() => undefined);
  }, [reloadAliases, reloadTrail]);
  if (data.error !== undefined) {
    return (
      <div class="mp-page">
        <p>
          <a href={hrefOf({ page: "list", filter: "", orderBy: "" })}>All models</a>
        </p>
        <ErrorNotice error={data.error} />
      </div>
    );
  }
  if (model === undefined) {
    return (
      <p role="status" class="mp-page">
        Loading the model…
      </p>
    );
  }
  return (
    <div class="mp-page">
      <nav aria-label="Breadcrumb" class="mp-crumbs">
        <a href={hrefOf({ page: "list", filter: "", orderBy: "" })}>All models</a> ›{" "}
        <a href={hrefOf({ page: "list", filter: `name = ${quoteFilterValue(model.name)}`, orderBy: "" })}>
          {model.name}
        </a>
      </nav>
      <h1>
        {model.name} {model.version}
      </h1>
      {data.deleted ? (
        <p role="alert" class="mp-notice">
          This version was deleted while you were looking at it.
        </p>
      ) : null}
      {data.partError ? <ErrorNotice error={data.partError} /> : null}
      <div class="mp-grid">
        <Details model={model} changed={data.changed} />
        <PromoteForm model={model} versions={data.versions} aliases={data.aliases} onChanged={refresh} />
      </div>
      <Versions current={model} versions={data.versions} aliases={data.aliases} newIds={data.newIds} />
      <Aliases
        name={model.name}
        aliases={data.aliases}
        versions={data.versions}
        aliasRevision={data.aliasRevision}
        onChanged={refresh}
      />
      <AuditTrail entries={data.trail} hasMore={data.trailNext !== ""} loadMore={data.loadMoreTrail} />
    </div>
  );
}
