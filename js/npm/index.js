// codepool: render voucher templates from JavaScript.
//
// A thin layer over the wasm-bindgen output (codepool_wasm.js): it loads the
// module (synchronously in Node, `await init()` in the browser), encodes the
// context into one byte string (the cheapest way across the boundary; the
// format is described in js/src/context.rs), and returns `null` rather than
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

// The context encoder. One scratch buffer is reused across renders (render
// is synchronous, so no two encodings overlap) and grows as needed.
const MAX_DEPTH = 100;
let scratch = new Uint8Array(4096);
let view = new DataView(scratch.buffer);
let at = 0;
const utf8 = new TextEncoder();
// Called through a saved reference: `s.charCodeAt(i)` turns six times
// slower in V8 once any object inherits from String.prototype, as
// nunjucks' SafeString does, and pages do load other template engines.
const charCodeAt = String.prototype.charCodeAt;

function reserve(n) {
  if (at + n <= scratch.length) return;
  const grown = new Uint8Array(Math.max(scratch.length * 2, at + n));
  grown.set(scratch.subarray(0, at));
  scratch = grown;
  view = new DataView(scratch.buffer);
}

function writeString(s) {
  // At most 3 UTF-8 bytes per UTF-16 unit, plus the length.
  reserve(4 + s.length * 3);
  const start = at + 4;
  let end = start;
  // Most context strings are short and ASCII: copying them by hand beats a
  // call into TextEncoder. (Locals: module variables cost a load each time.)
  const buf = scratch;
  const n = s.length;
  let i = 0;
  for (; i < n; i++) {
    const c = charCodeAt.call(s, i);
    if (c > 0x7f) break;
    buf[end + i] = c;
  }
  end += i;
  if (i < n) {
    end += utf8.encodeInto(s.slice(i), scratch.subarray(end)).written;
  }
  view.setUint32(at, end - start, true);
  at = end;
}

// Writes `value` as JSON.stringify would show it; returns false (writing
// nothing) for what JSON leaves out: undefined, functions, symbols.
function writeValue(value, depth) {
  switch (typeof value) {
    case 'string':
      reserve(1);
      scratch[at++] = 4;
      writeString(value);
      return true;
    case 'number':
      reserve(9);
      if (Number.isFinite(value)) {
        scratch[at++] = 3;
        view.setFloat64(at, value, true);
        at += 8;
      } else {
        scratch[at++] = 0;
      }
      return true;
    case 'boolean':
      reserve(1);
      scratch[at++] = value ? 2 : 1;
      return true;
    case 'bigint':
      throw contextError('the context holds a BigInt, which has no JSON form: convert it to a string or number');
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) {
    reserve(1);
    scratch[at++] = 0;
    return true;
  }
  if (typeof value.toJSON === 'function') return writeValue(value.toJSON(), depth);
  if (depth >= MAX_DEPTH) {
    throw contextError(`the context is nested deeper than ${MAX_DEPTH} levels (does it refer to itself?)`);
  }
  if (Array.isArray(value)) {
    reserve(9);
    scratch[at] = 5;
    view.setUint32(at + 1, value.length, true);
    const lengthAt = at + 5;
    at += 9;
    for (let i = 0; i < value.length; i++) {
      if (!writeValue(value[i], depth + 1)) {
        reserve(1);
        scratch[at++] = 0; // JSON writes left-out array items as null
      }
    }
    view.setUint32(lengthAt, at - lengthAt - 4, true);
    return true;
  }
  reserve(9);
  scratch[at] = 6;
  const countAt = at + 1;
  const lengthAt = at + 5;
  at += 9;
  let count = 0;
  // Own enumerable string keys, as JSON.stringify takes them (for-in with
  // Object.hasOwn measured faster than Object.keys).
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const keyAt = at;
    writeString(key);
    if (writeValue(value[key], depth + 1)) count++;
    else at = keyAt; // a left-out value: take its key back
  }
  view.setUint32(countAt, count, true);
  view.setUint32(lengthAt, at - lengthAt - 4, true);
  return true;
}

function contextError(message) {
  const err = new TypeError(`codepool: ${message}`);
  err.code = 'invalid_context';
  return err;
}

let encoding = false;

/** The context as the bytes js/src/context.rs reads. */
function encodeContext(context) {
  // A getter or toJSON of the context that renders would overwrite the
  // scratch buffer under this encoding.
  if (encoding) {
    const err = new Error('codepool: render() was called while a context was being read (from a getter or toJSON): render one template at a time');
    err.code = 'reentrant_render';
    throw err;
  }
  encoding = true;
  try {
    at = 0;
    if (!writeValue(context ?? null, 0)) {
      throw contextError('the context must be an object (or null)');
    }
    return scratch.subarray(0, at);
  } finally {
    encoding = false;
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
    return this.#wasm.render(encodeContext(context), vouchers) ?? null;
  }

  /**
   * Renders like `render()` and reports what it took:
   * `{ output, codes: { pool: [code, …] }, short }`.
   */
  renderDetailed(context, vouchers) {
    return this.#wasm.renderDetailed(encodeContext(context), vouchers);
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
