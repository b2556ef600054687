/** A small visible mark on a row: "new", "changed", "deleted", "refused". */

/** What {@link Badge} marks. */
export interface BadgeProps {
  /** The text shown (and read by a screen reader), e.g. "new". */
  readonly text: string;
  /** The colour family; defaults to the text. */
  readonly kind?: "new" | "changed" | "deleted" | "refused" | "neutral";
}

/** `<span class="badge badge-<kind>">text</span>`. */
export function Badge({ text, kind }: BadgeProps) {
  return <span class={`badge badge-${kind ?? text}`}>{text}</span>;
}
