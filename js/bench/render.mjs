// Renders the reference web layer (bench/fixtures/layer.html.j2 with
// layer.context.json, from the repository's root) through the codepool
// package and, in the same run, through nunjucks, handlebars and
// minijinja-js (each compiled once, templates beside this file), and prints
// microseconds per render and the ratios.
//
// Usage: npm run bench:render [-- --renders 20000 --rounds 5]
// (the npm script builds pkg/ first if it is missing).
//
// Every engine gets a fresh per-render context object, as a caller rendering
// for one customer after another would: codepool the context plus its
// voucher object, the peers the context plus `code`, `available` and `total`
// as plain variables (they have no voucher functions). Rounds alternate
// between engines so that a slow moment of the machine hits all of them; the
// median round is reported.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { compile } from '../../pkg/index.js';

const require = createRequire(import.meta.url);
const nunjucks = require('nunjucks');
const Handlebars = require('handlebars');
const minijinja = require('minijinja-js');

const { values: args } = parseArgs({
  options: {
    renders: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '5' },
    fixtures: { type: 'string', default: new URL('../../bench/fixtures/', import.meta.url).pathname },
  },
});
const renders = Number(args.renders);
const rounds = Number(args.rounds);
const fixtures = args.fixtures.endsWith('/') ? args.fixtures : `${args.fixtures}/`;

const here = (name) => readFileSync(new URL(name, import.meta.url), 'utf8');
const layer = readFileSync(`${fixtures}layer.html.j2`, 'utf8');
const context = JSON.parse(readFileSync(`${fixtures}layer.context.json`, 'utf8'));
const CODE = 'SPRING-7F3K-92QX';
const AVAILABLE = 4211;
const TOTAL = 5000;

const plain = () => ({ ...context, code: CODE, available: AVAILABLE, total: TOTAL });

const codepoolTemplate = compile(layer);

const njkEnv = new nunjucks.Environment(null, { autoescape: true });
const njkTemplate = new nunjucks.Template(here('layer.njk'), njkEnv, 'layer.njk', true);

const hbs = Handlebars.create();
hbs.registerHelper('eq', (a, b) => a === b);
const hbsTemplate = hbs.compile(here('layer.hbs'), { strict: false });
hbsTemplate({}); // handlebars compiles lazily, on the first call

const mjEnv = new minijinja.Environment();
mjEnv.addTemplate('layer.html', here('layer.minijinja.html.j2'));

const engines = [
  {
    name: 'codepool (wasm)',
    render: () =>
      codepoolTemplate.render(context, {
        spring10: { codes: [CODE], available: AVAILABLE, total: TOTAL },
      }),
  },
  { name: 'nunjucks (compiled)', render: () => njkTemplate.render(plain()) },
  { name: 'handlebars (compiled)', render: () => hbsTemplate(plain()) },
  { name: 'minijinja-js (wasm)', render: () => mjEnv.renderTemplate('layer.html', plain()) },
];

// The engines must agree on the markup, or the comparison means nothing.
// They escape a few characters differently (`/`, `'`) and differ on the
// trailing newline; compare with those normalised.
const normal = (html) =>
  html
    .replaceAll('&#x2f;', '/')
    .replaceAll('&#x27;', "'")
    .replaceAll('&#39;', "'")
    .trimEnd();
const expected = normal(engines[0].render());
if (!expected.includes(CODE) || !expected.includes('Ada &lt;3')) {
  throw new Error(`codepool rendered unexpected output:\n${expected}`);
}
for (const engine of engines) {
  const output = normal(engine.render());
  if (output !== expected) {
    throw new Error(`${engine.name} renders different markup:\n${output}\n--- codepool:\n${expected}`);
  }
}

function measure(render, n) {
  let bytes = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) bytes += render().length;
  const elapsed = Number(process.hrtime.bigint() - start);
  if (bytes === 0) throw new Error('nothing rendered');
  return elapsed / n / 1000;
}

for (const engine of engines) {
  measure(engine.render, Math.min(renders, 2000)); // warm-up: JIT, wasm tiers
  engine.rounds = [];
}
for (let round = 0; round < rounds; round++) {
  for (const engine of engines) engine.rounds.push(measure(engine.render, renders));
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const engine of engines) engine.us = median(engine.rounds);

const ours = engines[0].us;
console.log(
  `layer.html.j2, ${renders} renders x ${rounds} rounds per engine, median round; node ${process.version}`,
);
console.log('engine                  µs/render   codepool time / engine time   engine time / codepool time');
for (const engine of engines) {
  console.log(
    `${engine.name.padEnd(22)} ${engine.us.toFixed(2).padStart(9)}   ${(ours / engine.us).toFixed(2).padStart(27)}   ${(engine.us / ours).toFixed(2).padStart(27)}`,
  );
}
const size = readFileSync(new URL('../../pkg/codepool_wasm_bg.wasm', import.meta.url)).length;
console.log(`codepool_wasm_bg.wasm: ${size} bytes`);
