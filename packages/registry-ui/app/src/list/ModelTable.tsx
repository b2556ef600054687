/** The list's table: one row per model of the page, live marks, facet chips. */
import { Badge } from "../components/Badge";
import { Time } from "../components/Time";
import { hrefOf } from "../router";
import { frameworkClause, tagClause } from "./filter";
import type { Row } from "./useListing";

/** What {@link ModelTable} shows. */
export interface ModelTableProps {
  readonly rows: readonly Row[];
  readonly loading: boolean;
  /** Adds a clause (a framework or tag chip) to the filter. */
  readonly onRefine: (clause: string) => void;
}

function ModelRow({ row, onRefine }: { readonly row: Row; readonly onRefine: (clause: string) => void }) {
  const { model, live } = row;
  // A model that left the filter is struck through like a deleted one.
  const rowClass = live === "left" ? "live-deleted live-left" : live ? `live-${live}` : undefined;
  return (
    <tr data-model-id={model.id} data-live={live} class={rowClass}>
      <th scope="row" class="cell-name">
        <a href={hrefOf({ page: "model", id: model.id })}>{model.name}</a>
        {live && (
          <> {live === "left" ? <Badge text="no longer matches" kind="deleted" /> : <Badge text={live} />}</>
        )}
      </th>
      <td class="cell-version">{model.version}</td>
      <td class="cell-framework">
        {model.framework !== "" && (
          <button
            type="button"
            class="chip"
            title={`Only ${model.framework} models`}
            onClick={() => onRefine(frameworkClause(model.framework))}
          >
            {model.framework}
          </button>
        )}
      </td>
      <td class="cell-tags col-optional">
        {model.tags.map((tag, i) => (
          <>
            {i > 0 && " "}
            <button
              key={tag}
              type="button"
              class="chip"
              title={`Only models tagged ${tag}`}
              onClick={() => onRefine(tagClause(tag))}
            >
              {tag}
            </button>
          </>
        ))}
      </td>
      <td class="cell-created col-optional">
        <Time value={model.createTime} />
      </td>
    </tr>
  );
}

/** `<table>` named "Models"; `aria-busy` while a page loads (the old rows stay meanwhile). */
export function ModelTable({ rows, loading, onRefine }: ModelTableProps) {
  return (
    <div class="table-scroll">
      <table class="models" aria-busy={loading ? "true" : "false"}>
        <caption>Models</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Version</th>
            <th scope="col">Framework</th>
            <th scope="col" class="col-optional">
              Tags
            </th>
            <th scope="col" class="col-optional">
              Created
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <ModelRow key={row.model.id} row={row} onRefine={onRefine} />
          ))}
        </tbody>
      </table>
    </div>
  );
}
