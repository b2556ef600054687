/** The Versions section: every version of the name, its aliases, compare checkboxes. */
import { useMemo, useState } from "preact/hooks";
import type { Model, ModelAlias } from "../api/types";
import { Badge } from "../components/Badge";
import { Time } from "../components/Time";
import { hrefOf } from "../router";
import { Comparison } from "./Comparison";
import { versionLimit } from "./useModelData";

/** Rows shown until "Show all" is pressed. */
export const shownVersions = 200;

/** Props of {@link Versions}. */
export interface VersionsProps {
  /** The page's version. */
  readonly current: Model;
  /** Newest first; undefined while loading. */
  readonly versions: readonly Model[] | undefined;
  readonly aliases: readonly ModelAlias[] | undefined;
  /** Versions that appeared live. */
  readonly newIds: ReadonlySet<string>;
}

function VersionRow(props: {
  readonly model: Model;
  readonly current: boolean;
  readonly isNew: boolean;
  readonly aliases: readonly string[];
  readonly checked: boolean;
  readonly onToggle: (id: string) => void;
}) {
  const { model, current, isNew, aliases, checked, onToggle } = props;
  return (
    <tr
      data-model-id={model.id}
      aria-current={current ? "page" : undefined}
      data-live={isNew ? "new" : undefined}
      class={current ? "mp-current" : undefined}
    >
      <td>
        <input
          type="checkbox"
          aria-label={`Compare ${model.version}`}
          checked={checked}
          onChange={() => onToggle(model.id)}
        />
      </td>
      <td>
        <a href={hrefOf({ page: "model", id: model.id })}>{model.version}</a>
        {current ? <span class="mp-muted"> (this page)</span> : null}
        {isNew ? <Badge text="new" /> : null}
      </td>
      <td>{aliases.join(", ")}</td>
      <td>{model.framework}</td>
      <td>{model.tags.join(", ")}</td>
      <td>
        <Time value={model.createTime} />
      </td>
    </tr>
  );
}

/** The versions table and, with two or more chosen, the comparison. */
export function Versions({ current, versions, aliases, newIds }: VersionsProps) {
  const [chosen, setChosen] = useState<readonly string[]>([]);
  const [showAll, setShowAll] = useState(false);
  const aliasesOf = useMemo(() => {
    const map = new Map<string, string[]>();
    for (const a of aliases ?? []) map.set(a.version, [...(map.get(a.version) ?? []), a.alias]);
    return map;
  }, [aliases]);
  const toggle = (id: string) =>
    setChosen((ids) => (ids.includes(id) ? ids.filter((x) => x !== id) : [...ids, id]));
  const list = versions ?? [];
  const shown = showAll ? list : list.slice(0, shownVersions);
  const compared = list.filter((v) => chosen.includes(v.id));
  return (
    <section aria-labelledby="versions-heading" class="mp-section">
      <h2 id="versions-heading">Versions</h2>
      {versions === undefined ? (
        <p role="status">Loading versions…</p>
      ) : (
        <>
          <div class="mp-scroll">
            <table class="mp-table">
              <caption class="mp-visually-hidden">Versions</caption>
              <thead>
                <tr>
                  <th scope="col">
                    <span class="mp-visually-hidden">Compare</span>
                  </th>
                  <th scope="col">Version</th>
                  <th scope="col">Aliases</th>
                  <th scope="col">Framework</th>
                  <th scope="col">Tags</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((v) => (
                  <VersionRow
                    key={v.id}
                    model={v}
                    current={v.id === current.id}
                    isNew={newIds.has(v.id)}
                    aliases={aliasesOf.get(v.version) ?? []}
                    checked={chosen.includes(v.id)}
                    onToggle={toggle}
                  />
                ))}
              </tbody>
            </table>
          </div>
          {list.length >= versionLimit ? (
            <p class="mp-muted">
              The newest {versionLimit} versions are listed; older ones are in the models list (filter by
              name).
            </p>
          ) : null}
          {shown.length < list.length ? (
            <button type="button" onClick={() => setShowAll(true)}>
              Show all {list.length}
            </button>
          ) : null}
          {compared.length >= 2 ? (
            <Comparison models={compared} />
          ) : (
            <p class="mp-muted">Check two or more versions to compare them side by side.</p>
          )}
        </>
      )}
    </section>
  );
}
