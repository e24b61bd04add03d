import { memo, useCallback, useRef, type ReactNode } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';

/** A column of a VirtualRows table: its header title and its CSS grid track (`width`). */
export interface Column {
  title: string;
  width: string;
  /** Right-aligned, as numbers (amounts) are. */
  num?: boolean;
  /** The title is for screen readers only (icon and button columns). */
  srOnly?: boolean;
}

/**
 * A table whose body renders only the rows in view (plus `overscan`), so lists of tens of
 * thousands of rows (History with 10 000 transactions, addresses, coins) scroll at frame rate:
 * the DOM holds a few dozen rows whatever the length. ARIA table semantics with `aria-rowcount`
 * and `aria-rowindex`, so assistive technology knows the full size. Rows have a fixed height.
 *
 * `columns` gives the header cells and, from their widths, the CSS grid-template-columns shared by
 * header and rows.
 */
export function VirtualRows<T>(props: {
  label: string;
  items: readonly T[];
  rowHeight: number;
  columns: readonly Column[];
  rowKey(item: T): string;
  renderRow(item: T, index: number): ReactNode;
  /** Row activation (click, Enter, Space): e.g. open details. */
  onActivate?(item: T): void;
  rowProps?(item: T): Record<string, string>;
  testId?: string;
  /** Height of the scrolling body; defaults to what fits the window. */
  height?: string;
  /**
   * Rows re-render only when their item, position or `deps` change (not on every scroll event):
   * pass here whatever else `renderRow` reads (e.g. which row is busy).
   */
  deps?: unknown;
}) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const { items, rowKey, rowHeight } = props;
  // Stable across scroll-driven renders: the virtualizer recomputes every row's position (O(n))
  // whenever getItemKey changes identity.
  const getItemKey = useCallback((i: number) => rowKey(items[i]!), [items, rowKey]);
  const estimateSize = useCallback(() => rowHeight, [rowHeight]);
  const getScrollElement = useCallback(() => scrollRef.current, []);
  const virtualizer = useVirtualizer({ count: items.length, getScrollElement, estimateSize, overscan: 8, getItemKey });
  const rows = virtualizer.getVirtualItems();
  const gridColumns = props.columns.map((c) => c.width).join(' ');
  return (
    <div className="vtable" role="table" aria-label={props.label} aria-rowcount={props.items.length + 1} data-testid={props.testId}>
      <div className="vtable-head" role="row" aria-rowindex={1} style={{ gridTemplateColumns: gridColumns }}>
        {props.columns.map((c) => (
          <span key={c.title} role="columnheader" className={c.num ? 'num' : undefined}>
            {c.srOnly ? <span className="sr-only">{c.title}</span> : c.title}
          </span>
        ))}
      </div>
      <div ref={scrollRef} className="vtable-body" role="rowgroup" style={{ height: props.height }} data-testid={props.testId ? `${props.testId}-scroll` : undefined}>
        <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
          {rows.map((v) => (
            <Row
              key={v.key}
              item={props.items[v.index]!}
              index={v.index}
              start={v.start}
              height={props.rowHeight}
              columns={gridColumns}
              deps={props.deps}
              render={props.renderRow}
              onActivate={props.onActivate}
              rowProps={props.rowProps}
            />
          ))}
        </div>
      </div>
    </div>
  );
}

interface RowProps<T> {
  item: T;
  index: number;
  start: number;
  height: number;
  columns: string;
  deps: unknown;
  render(item: T, index: number): ReactNode;
  onActivate?(item: T): void;
  rowProps?(item: T): Record<string, string>;
}

function RowView<T>(p: RowProps<T>) {
  const activate = p.onActivate;
  return (
    <div
      role="row"
      aria-rowindex={p.index + 2}
      className={`vtable-row ${activate ? 'vtable-row-action' : ''}`}
      tabIndex={activate ? 0 : undefined}
      onClick={activate ? () => activate(p.item) : undefined}
      onKeyDown={
        activate
          ? (e) => {
              if (e.target === e.currentTarget && (e.key === 'Enter' || e.key === ' ')) {
                e.preventDefault();
                activate(p.item);
              }
            }
          : undefined
      }
      style={{ height: p.height, transform: `translateY(${p.start}px)`, gridTemplateColumns: p.columns }}
      {...p.rowProps?.(p.item)}
    >
      {p.render(p.item, p.index)}
    </div>
  );
}

/** A row, skipped on re-render unless its item, position, size or deps changed (callbacks are inline lambdas). */
const Row = memo(
  RowView,
  (a, b) => a.item === b.item && a.index === b.index && a.start === b.start && a.height === b.height && a.columns === b.columns && a.deps === b.deps,
) as typeof RowView;
