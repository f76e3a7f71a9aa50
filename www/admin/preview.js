// The layer editor's live preview: the one place that renders a template for
// the console. It renders in the browser with the wasm render function (the
// npm package `codepool`, copied to www/pkg/ by scripts/build-www.sh): sample
// codes (SAMPLE-<POOL>-<n>, as the edge's preview) and the pools' real
// counts; nothing is reserved or consumed, and no render goes to the edge.
import { call } from './api.js';

/** The package, loaded on the first preview (the rest of the console works without it). */
let loaded;

async function wasm() {
  loaded ??= import('/pkg/index.js')
    .then(async (pkg) => {
      await pkg.default();
      return pkg;
    })
    .catch((err) => {
      loaded = undefined; // try again on the next preview
      throw new Error(`the wasm render function did not load (${err.message}): ` +
        'build it into www/pkg/ with `bash scripts/build-www.sh`');
    });
  return loaded;
}

/** Pool counts by name, read at most every few seconds while typing. */
let counts;
let countsAt = 0;
const COUNTS_FOR_MS = 5_000;

async function poolCounts() {
  if (!counts || Date.now() - countsAt > COUNTS_FOR_MS) {
    const { pools } = await call('GET', '/pools');
    counts = new Map(pools.map((p) => [p.name, p]));
    countsAt = Date.now();
  }
  return counts;
}

/**
 * An error of the template as the console shows it: the message (which names
 * the place, as the edge's does) with `code`, `line` and `column` kept as fields.
 */
function templateError(err) {
  const error = new Error(err.message);
  error.code = err.code;
  error.line = err.line;
  error.column = err.column;
  return error;
}

/**
 * Renders `template` with `context` (e.g. {customer: {id}}); answers the HTML
 * output. Template errors throw an Error whose message names the line.
 */
export async function renderPreview(template, context) {
  const { compile } = await wasm();
  const pools = await poolCounts();
  const taken = new Map();
  const unknown = new Set();
  // Any pool the template names: sample codes without end, the real counts.
  // A pool the project lacks is noted (throwing here would unwind through
  // the wasm render) and reported after it, as the edge reports it.
  const vouchers = new Proxy({}, {
    get(_, name) {
      const pool = pools.get(String(name));
      if (!pool) {
        unknown.add(String(name));
        return {};
      }
      return {
        // count_available_codes(): codes not handed out yet, in the store or
        // leased to a layer's dispensers, as the edge counts them.
        available: pool.available + pool.leased,
        total: pool.total,
        codes: () => {
          const n = (taken.get(pool.name) ?? 0) + 1;
          taken.set(pool.name, n);
          return `SAMPLE-${pool.name.toUpperCase()}-${n}`;
        },
      };
    },
  });
  const unknownPool = () => {
    const [name] = unknown;
    const error = new Error(`there is no pool ${JSON.stringify(name)} in this project`);
    error.code = 'unknown_pool';
    return error;
  };
  let compiled;
  try {
    compiled = compile(template);
    const output = compiled.render(context, vouchers);
    if (unknown.size) throw unknownPool();
    return output ?? '';
  } catch (err) {
    if (unknown.size) throw unknownPool();
    throw err.code === 'unknown_pool' ? err : templateError(err);
  } finally {
    compiled?.free();
  }
}

/** Where the preview comes from, shown under it. */
export const PREVIEW_ENGINE = 'rendered in this browser by the wasm render function, with sample codes; consumes nothing';
