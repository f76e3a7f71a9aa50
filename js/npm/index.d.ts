/**
 * codepool: render voucher templates (Jinja, via minijinja) from JavaScript,
 * with the same rules as the edge: the output, or `null` when a pool the
 * template assigns from has no code left.
 */

/** One pool's codes and counts, as the caller supplies them. */
export interface Pool {
  /**
   * The codes this render may hand out, taken in order by each
   * `assign_available_code()` that runs; or a function called once per code
   * needed, returning a code, or `null` when there is none.
   */
  codes?: readonly string[] | (() => string | null | undefined);
  /** What `count_available_codes()` reads. */
  available?: number;
  /** What `count_total_codes()` reads. */
  total?: number;
}

/**
 * The vouchers of one render: pools by name, or a function called once per
 * code needed with the pool's name (which then has no counts).
 */
export type Vouchers = Record<string, Pool> | ((pool: string) => string | null | undefined);

/** What `renderDetailed()` answers. */
export interface Rendered {
  /** The output, or `null` when a pool ran short (show nothing). */
  output: string | null;
  /**
   * Every code handed to the template, by pool. When the render was
   * suppressed, codes a callback gave before the shortage are listed here so
   * that they can be given back.
   */
  codes: Record<string, string[]>;
  /** The pool that had no code left, or `null`. */
  short: string | null;
}

/**
 * The `Error` thrown for a template or input problem. `code` is stable:
 * `template_syntax_error`, `template_error`, `template_too_slow`,
 * `template_too_large`, `output_too_large`, `missing_count`,
 * `invalid_vouchers`, `invalid_context`, `reentrant_render`.
 */
export interface CodepoolError extends Error {
  code: string;
  /** Line of the template (from 1), for errors the template can place. */
  line?: number;
  /** Column of that line (from 1). */
  column?: number;
}

/** A template compiled once and rendered many times. */
export class Template {
  /** Compiles `source`; throws a `CodepoolError` on a syntax error. */
  constructor(source: string);
  /** The template's source. */
  readonly source: string;
  /**
   * Renders with `context` (its keys become variables; values are seen as
   * `JSON.stringify` shows them) and `vouchers`. Returns the output, or `null` when a pool the template
   * assigns from has no code left.
   */
  render(context?: object | null, vouchers?: Vouchers | null): string | null;
  /** Renders like `render()` and reports which codes it took. */
  renderDetailed(context?: object | null, vouchers?: Vouchers | null): Rendered;
  /** Frees the compiled template now rather than when it is collected. */
  free(): void;
}

/** Compiles a template: `compile(source).render(context, vouchers)`. */
export function compile(source: string): Template;

/**
 * Loads the WebAssembly module: needed once in the browser before
 * `compile()`, a no-op in Node. `input` defaults to the `.wasm` beside the
 * package's `index.js`.
 */
export default function init(
  input?: string | URL | Request | Response | BufferSource | WebAssembly.Module,
): Promise<void>;
