/** The list's search form: filter (with the API's inline error), sort, Search. */
import { useEffect, useState } from "preact/hooks";
import { ApiError } from "../api/http";
import { ErrorNotice } from "../components/ErrorNotice";
import { orderOptions } from "./filter";

/** What {@link SearchForm} shows and reports. */
export interface SearchFormProps {
  readonly filter: string;
  readonly orderBy: string;
  /** The filter's error from the API (INVALID_ARGUMENT), shown under the input. */
  readonly error: unknown;
  readonly onSearch: (filter: string, orderBy: string) => void;
}

/** Whether `error` is about the filter (a 400 from the list call). */
export function isFilterError(error: unknown): boolean {
  return (
    error instanceof ApiError &&
    (error.code === "INVALID_ARGUMENT" || error.fieldViolations.some((v) => v.field === "filter"))
  );
}

/** `<form role="search">` with "Filter", "Sort by" and "Search". */
export function SearchForm({ filter, orderBy, error, onSearch }: SearchFormProps) {
  const [draft, setDraft] = useState(filter);
  const [order, setOrder] = useState(orderBy);
  useEffect(() => setDraft(filter), [filter]);
  useEffect(() => setOrder(orderBy), [orderBy]);
  const invalid = isFilterError(error);
  const known = orderOptions.some((o) => o.value === order);
  return (
    // biome-ignore lint/a11y/useSemanticElements: the contract (and older browsers) want a form with the search role
    <form
      role="search"
      class="search-form"
      onSubmit={(event) => {
        event.preventDefault();
        onSearch(draft.trim(), order);
      }}
    >
      <div class="field field-filter">
        <label for="filter-input">Filter</label>
        <input
          id="filter-input"
          type="search"
          value={draft}
          placeholder='framework = "pytorch" AND tags:production'
          spellcheck={false}
          autoComplete="off"
          aria-invalid={invalid ? "true" : undefined}
          aria-describedby={invalid ? "filter-error" : "filter-help"}
          onInput={(event) => setDraft(event.currentTarget.value)}
        />
        {invalid ? (
          <ErrorNotice id="filter-error" error={error} omitRepeated class="field-error" />
        ) : (
          <p id="filter-help" class="hint">
            e.g. <code>name = "bert-*"</code>, <code>tags:production</code>, joined with AND / OR
          </p>
        )}
      </div>
      <div class="field field-sort">
        <label for="sort-select">Sort by</label>
        <select
          id="sort-select"
          value={known ? order : "create_time desc"}
          onChange={(event) => {
            const value = event.currentTarget.value;
            setOrder(value);
            onSearch(draft.trim(), value);
          }}
        >
          {orderOptions.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      </div>
      <button type="submit" class="primary">
        Search
      </button>
    </form>
  );
}
