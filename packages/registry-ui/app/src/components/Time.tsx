/** A timestamp shown as a readable local date, machine-readable in `datetime`. */

const format = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** The readable local form of an RFC 3339 timestamp ("" for none or an invalid one). */
export function formatTime(value: string | undefined): string {
  if (value === undefined || value === "") return "";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : format.format(date);
}

/** What {@link Time} shows. */
export interface TimeProps {
  /** RFC 3339, as the API writes it; empty or absent shows a dash. */
  readonly value: string | undefined;
}

/** `<time datetime="...">` with the local date and time; the full timestamp as its tooltip. */
export function Time({ value }: TimeProps) {
  if (value === undefined || value === "") return <span>–</span>;
  return (
    <time dateTime={value} title={value}>
      {formatTime(value)}
    </time>
  );
}
