// The package's loading and the context's crossing: what differs between
// Node and the browser, and values JSON would show differently.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import init, { compile } from '../../pkg/index.js';

const pkg = new URL('../../pkg/', import.meta.url);

test('package.json names the package codepool, an ES module with types', () => {
  const manifest = JSON.parse(readFileSync(new URL('package.json', pkg), 'utf8'));
  assert.equal(manifest.name, 'codepool');
  assert.equal(manifest.type, 'module');
  assert.equal(manifest.exports['.'].types, './index.d.ts');
  for (const file of ['index.js', 'index.d.ts', 'codepool_wasm.js', 'codepool_wasm_bg.wasm', 'README.md']) {
    assert.ok(readFileSync(new URL(file, pkg)).length > 0, file);
  }
});

test('in Node the module is ready at import; init() resolves at once', async () => {
  await init();
  assert.equal(compile('{{ 1 + 1 }}').render({}), '2');
});

test('without Node, compile() asks for init(), which loads the given module', () => {
  // A child without `process` sees the package as a browser does.
  const script = `
    const bytes = (await import('node:fs')).readFileSync(new URL('codepool_wasm_bg.wasm', ${JSON.stringify(pkg.href)}));
    delete globalThis.process;
    const { default: init, compile } = await import(${JSON.stringify(new URL('index.js', pkg).href)});
    let before;
    try { compile('x'); } catch (err) { before = err.message; }
    await init(bytes);
    console.log(JSON.stringify({ before, after: compile('{{ a }}!').render({ a: 'ok' }) }));
  `;
  const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }));
  assert.match(out.before, /await init\(\)/);
  assert.equal(out.after, 'ok!');
});

test('non-ASCII text crosses intact, in the context and in codes', () => {
  const t = compile("{{ name }} – {{ vouchers['p'].assign_available_code() }} {{ name | length }}");
  assert.equal(t.render({ name: 'Zoë 😀 Łódź' }, { p: { codes: ['CAFÉ-€'] } }), 'Zoë 😀 Łódź – CAFÉ-€ 10');
});

test("an object's items loop in name order, as on the edge", () => {
  const t = compile('{% for k, v in o | items %}{{ k }}={{ v }};{% endfor %}');
  assert.equal(t.render({ o: { b: 2, a: 1, c: 3 } }), 'a=1;b=2;c=3;');
});

test('values JSON leaves out are left out; arrays keep their places as none', () => {
  const t = compile('{{ o | length }} {{ a[1] is none }} {{ a | length }}');
  assert.equal(t.render({ o: { x: 1, f() {}, u: undefined }, a: [1, undefined, 3] }), '1 True 3');
  assert.equal(compile('{{ n is none }}').render({ n: Number.NaN }), 'True');
});

test('a context JSON cannot show is refused with a clear error', () => {
  const t = compile('x');
  assert.throws(() => t.render({ n: 10n }), (err) => err.code === 'invalid_context' && /BigInt/.test(err.message));
  const loop = {};
  loop.self = loop;
  assert.throws(() => t.render(loop), (err) => err.code === 'invalid_context' && /nested deeper/.test(err.message));
});

test('a large context is encoded whole (the buffer grows)', () => {
  const items = Array.from({ length: 5000 }, (_, i) => ({ name: `item ${i}`, price: i / 4 }));
  const t = compile('{{ items | length }} {{ items[4999].name }} {{ items[3].price }}');
  assert.equal(t.render({ items }), '5000 item 4999 0.75');
});
