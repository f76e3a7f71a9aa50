// codepool: render voucher templates from JavaScript.
//
// A thin layer over the wasm-bindgen output (codepool_wasm.js): it loads the
// module (synchronously in Node, `await init()` in the browser), turns the
// context into JSON text (the cheapest way across the boundary: one string
// instead of a call per property), and returns `null` rather than
// `undefined` for a suppressed render.
import initWasm, { initSync, Template as WasmTemplate } from './codepool_wasm.js';

let ready = false;

// Node (20.16+) can read the module from disk while this file is imported,
// so Node callers need no `await init()`. `process.getBuiltinModule` is used
// rather than `import('node:fs')` so that browser bundlers see no Node import.
const fs = globalThis.process?.getBuiltinModule?.('node:fs');
if (fs) {
  initSync({ module: fs.readFileSync(new URL('./codepool_wasm_bg.wasm', import.meta.url)) });
  ready = true;
}

/**
 * Loads the WebAssembly module. Needed once in the browser before
 * `compile()`; resolves at once in Node. `input` may be a URL, a `Response`,
 * bytes or a `WebAssembly.Module`; by default the `.wasm` beside this file.
 */
export default async function init(input) {
  if (!ready) {
    await initWasm(input === undefined ? undefined : { module_or_path: input });
    ready = true;
  }
}

/** A template compiled once and rendered many times. */
export class Template {
  #wasm;

  /** Compiles `source`; throws an `Error` with `code`, `line`, `column`. */
  constructor(source) {
    if (!ready) {
      throw new Error('codepool: the WebAssembly module is not loaded yet: `await init()` before compile()');
    }
    if (typeof source !== 'string') {
      throw new TypeError('codepool: the template source must be a string');
    }
    this.#wasm = new WasmTemplate(source);
  }

  /** The template's source. */
  get source() {
    return this.#wasm.source;
  }

  /**
   * Renders with `context` (its keys become variables) and `vouchers`.
   * Returns the output, or `null` when a pool the template assigns from has
   * no code left (show nothing).
   */
  render(context, vouchers) {
    return this.#wasm.render(JSON.stringify(context ?? null), vouchers) ?? null;
  }

  /**
   * Renders like `render()` and reports what it took:
   * `{ output, codes: { pool: [code, …] }, short }`.
   */
  renderDetailed(context, vouchers) {
    return this.#wasm.renderDetailed(JSON.stringify(context ?? null), vouchers);
  }

  /** Frees the compiled template now rather than when it is collected. */
  free() {
    this.#wasm.free();
  }
}

/** Compiles a template: `compile(source).render(context, vouchers)`. */
export function compile(source) {
  return new Template(source);
}
