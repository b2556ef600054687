/** The Aliases section: each alias, its history, and a roll back to where it pointed before. */
import { useEffect, useState } from "preact/hooks";
import { listHistory } from "../api/registry";
import type { HistoryEntry, Model, ModelAlias } from "../api/types";
import { Badge } from "../components/Badge";
import { ErrorNotice } from "../components/ErrorNotice";
import { Time } from "../components/Time";
import { hrefOf } from "../router";
import { refusalLines } from "./format";
import { useAliasMove } from "./useAliasMove";

/** Props of {@link Aliases}. */
export interface AliasesProps {
  readonly name: string;
  readonly aliases: readonly ModelAlias[] | undefined;
  readonly versions: readonly Model[] | undefined;
  /** Changes whenever an alias moved, so the histories reload. */
  readonly aliasRevision: number;
  /** After a roll back: reload aliases and the audit trail. */
  readonly onChanged: () => void;
}

/** The version the alias pointed at before its last (accepted) move to where it is now. */
function previousVersion(alias: ModelAlias, entries: readonly HistoryEntry[]): string {
  for (const entry of entries) {
    if (entry.refusal !== undefined || entry.type !== "MODEL_EVENT_TYPE_ALIAS_SET") continue;
    if (entry.aliasAfter?.version !== alias.version) return "";
    return entry.aliasBefore?.version ?? "";
  }
  return "";
}

function AliasHistory({
  alias,
  entries,
}: {
  readonly alias: string;
  readonly entries: readonly HistoryEntry[];
}) {
  if (entries.length === 0) return <p class="mp-muted">No moves recorded.</p>;
  return (
    <ul class="mp-history" aria-label={`History of ${alias}`}>
      {entries.map((entry) => {
        const refusal = refusalLines(entry);
        const from = entry.aliasBefore?.version || "(none)";
        const to = entry.aliasAfter?.version || "(none)";
        return (
          <li key={entry.revision} data-refused={refusal ? "true" : undefined}>
            <Time value={entry.commitTime} /> · {entry.actor || "anonymous"} · {from} → {to}
            {entry.type === "MODEL_EVENT_TYPE_ALIAS_DELETED" ? " (deleted)" : ""}
            {refusal ? (
              <>
                {" "}
                <Badge text="refused" />: {refusal.message}
                {refusal.violations.length ? <span> ({refusal.violations.join("; ")})</span> : null}
              </>
            ) : null}
          </li>
        );
      })}
    </ul>
  );
}

function AliasRow(props: Omit<AliasesProps, "aliases"> & { readonly alias: ModelAlias }) {
  const { name, alias, versions, aliasRevision, onChanged } = props;
  const [entries, setEntries] = useState<readonly HistoryEntry[]>();
  const [open, setOpen] = useState(false);
  const [historyError, setHistoryError] = useState<unknown>();
  const { busy, done, error, conflict, move } = useAliasMove(onChanged);
  useEffect(() => {
    const abort = new AbortController();
    setHistoryError(undefined);
    listHistory({ name, alias: alias.alias, pageSize: 50 }, abort.signal).then(
      (page) => setEntries(page.items),
      (e: unknown) => {
        if (!abort.signal.aborted) setHistoryError(e);
      },
    );
    return () => abort.abort();
  }, [name, alias.alias, aliasRevision]);
  const previous = entries ? previousVersion(alias, entries) : "";
  const target = versions?.find((v) => v.version === alias.version);
  const rollBack = () =>
    move({ name, alias: alias.alias, version: previous, expectedVersion: alias.version });
  return (
    <>
      <tr data-alias={alias.alias}>
        <th scope="row">{alias.alias}</th>
        <td>
          <a href={hrefOf({ page: "model", id: target?.id ?? alias.modelId })}>{alias.version}</a>
        </td>
        <td>{alias.updatedBy || <span class="mp-muted">—</span>}</td>
        <td>
          <Time value={alias.updateTime} />
        </td>
        <td>
          <div class="mp-actions">
            <button type="button" aria-expanded={open} onClick={() => setOpen(!open)}>
              History of {alias.alias}
            </button>
            {previous !== "" ? (
              <button type="button" disabled={busy} onClick={rollBack}>
                Roll back {alias.alias} to {previous}
              </button>
            ) : null}
          </div>
        </td>
      </tr>
      {open || error || done ? (
        <tr class="mp-subrow">
          <td colSpan={5}>
            {done ? <p role="status">{done}</p> : null}
            {error ? (
              <ErrorNotice
                error={error}
                id={`rollback-error-${alias.alias}`}
                lead={
                  conflict
                    ? "Someone else moved this alias meanwhile; the table now shows where it points."
                    : undefined
                }
              />
            ) : null}
            {open && historyError !== undefined ? <ErrorNotice error={historyError} /> : null}
            {open && historyError === undefined ? (
              entries ? (
                <AliasHistory alias={alias.alias} entries={entries} />
              ) : (
                <p>Loading…</p>
              )
            ) : null}
          </td>
        </tr>
      ) : null}
    </>
  );
}

/** The aliases of the name. */
export function Aliases(props: AliasesProps) {
  const { aliases } = props;
  return (
    <section aria-labelledby="aliases-heading" class="mp-section">
      <h2 id="aliases-heading">Aliases</h2>
      {aliases === undefined ? (
        <p role="status">Loading aliases…</p>
      ) : aliases.length === 0 ? (
        <p>No aliases yet. Promote a version below to create one.</p>
      ) : (
        <div class="mp-scroll">
          <table class="mp-table">
            <caption class="mp-visually-hidden">Aliases</caption>
            <thead>
              <tr>
                <th scope="col">Alias</th>
                <th scope="col">Version</th>
                <th scope="col">Updated by</th>
                <th scope="col">Updated</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {aliases.map((a) => (
                <AliasRow key={a.alias} {...props} alias={a} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
