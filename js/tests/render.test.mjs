// The package as a caller sees it: rendering, suppression, voucher counts
// and escaping, through the built pkg/ (npm run test:js builds it first).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { compile } from '../../pkg/index.js';

const assign = (pool) => `{{ vouchers['${pool}'].assign_available_code() }}`;

test('renders the context and hands out the supplied code', () => {
  const t = compile(`Hi {{ customer.first_name }}: ${assign('spring10')}`);
  const out = t.render({ customer: { first_name: 'Ada' } }, { spring10: { codes: ['SPRING-1'] } });
  assert.equal(out, 'Hi Ada: SPRING-1');
});

test('each assign call that runs takes the next code', () => {
  const t = compile(`${assign('p')} ${assign('p')} ${assign('q')}`);
  assert.equal(t.render({}, { p: { codes: ['A', 'B', 'C'] }, q: { codes: ['Q'] } }), 'A B Q');
});

test('a render that needs more codes than supplied is suppressed', () => {
  const t = compile(`${assign('p')} ${assign('p')}`);
  assert.equal(t.render({}, { p: { codes: ['A'] } }), null);
  assert.equal(t.render({}, { p: { codes: [] } }), null);
  assert.equal(t.render({}, {}), null);
  assert.equal(t.render({}), null);
});

test('a branch not taken takes no code', () => {
  const t = compile(`{% if customer.tier == 'gold' %}${assign('p')}{% else %}no code{% endif %}`);
  const vouchers = { p: { codes: [] } };
  assert.equal(t.render({ customer: { tier: 'silver' } }, vouchers), 'no code');
  assert.equal(t.render({ customer: { tier: 'gold' } }, vouchers), null);
});

test('counts read the supplied numbers', () => {
  const t = compile("{{ vouchers['p'].count_available_codes() }} of {{ vouchers['p'].count_total_codes() }}");
  assert.equal(t.render({}, { p: { available: 4211, total: 5000 } }), '4211 of 5000');
});

test('a count guard can hide the code when the pool is low', () => {
  const t = compile(`{% if vouchers['p'].count_available_codes() > 0 %}${assign('p')}{% else %}sold out{% endif %}`);
  assert.equal(t.render({}, { p: { codes: ['A'], available: 1 } }), 'A');
  assert.equal(t.render({}, { p: { codes: [], available: 0 } }), 'sold out');
});

test('output is HTML-escaped, codes included', () => {
  const t = compile(`<b>{{ name }}</b> ${assign('p')} {{ '<i>' | safe }}`);
  const out = t.render({ name: 'Ada <3 & "co"' }, { p: { codes: ['<A&B>'] } });
  assert.equal(out, '<b>Ada &lt;3 &amp; &quot;co&quot;</b> &lt;A&amp;B&gt; <i>');
});

test('the context is read as JSON shows it', () => {
  const t = compile('{{ n }} {{ f }} {{ b }} {{ missing is undefined }} {{ d }} {{ items | length }}');
  const out = t.render({ n: 42, f: 39.9, b: true, fn: () => 1, d: new Date(0), items: [1, 2, 3] });
  assert.equal(out, '42 39.9 True True 1970-01-01T00:00:00.000Z 3'); // Jinja's booleans
  assert.equal(compile('x').render(null), 'x');
});

test('renderDetailed reports the codes taken and the pool that ran short', () => {
  const t = compile(`${assign('p')}${assign('q')}`);
  assert.deepEqual(t.renderDetailed({}, { p: { codes: ['A', 'B'] }, q: { codes: ['Q'] } }), {
    output: 'AQ',
    codes: { p: ['A'], q: ['Q'] },
    short: null,
  });
  assert.deepEqual(t.renderDetailed({}, { p: { codes: ['A'] }, q: { codes: [] } }), {
    output: null,
    codes: { p: ['A'] },
    short: 'q',
  });
});

test('a callback supplies codes one at a time, and stops at the first null', () => {
  const queue = ['A', 'B'];
  const calls = [];
  const take = (pool) => {
    calls.push(pool);
    return queue.shift() ?? null;
  };
  const t = compile(`${assign('p')}-${assign('q')}`);
  assert.equal(t.render({}, take), 'A-B');
  assert.deepEqual(calls, ['p', 'q']);
  const detailed = t.renderDetailed({}, () => (calls.length < 3 ? (calls.push('x'), 'C') : null));
  assert.deepEqual(detailed, { output: null, codes: { p: ['C'] }, short: 'q' });
});

test('a pool can supply codes through a function and counts beside it', () => {
  let n = 0;
  const t = compile(`${assign('p')} ${assign('p')} {{ vouchers['p'].count_total_codes() }}`);
  const out = t.render({}, { p: { codes: () => `C${++n}`, total: 7 } });
  assert.equal(out, 'C1 C2 7');
});

test('templates are compiled once and rendered many times independently', () => {
  const t = compile(`{{ i }}:${assign('p')}`);
  for (let i = 0; i < 50; i++) {
    assert.equal(t.render({ i }, { p: { codes: [`C${i}`] } }), `${i}:C${i}`);
  }
  assert.equal(t.source, `{{ i }}:${assign('p')}`);
});

test('the reference layer renders with the reference inputs', () => {
  const fixtures = new URL('../../bench/fixtures/', import.meta.url);
  const layer = readFileSync(new URL('layer.html.j2', fixtures), 'utf8');
  const context = JSON.parse(readFileSync(new URL('layer.context.json', fixtures), 'utf8'));
  const out = compile(layer).render(context, {
    spring10: { codes: ['SPRING-7F3K-92QX'], available: 4211, total: 5000 },
  });
  assert.match(out, /Hi Ada &lt;3, here is 10% off/);
  assert.match(out, /Gold members/);
  assert.match(out, /<strong>SPRING-7F3K-92QX<\/strong>/);
  assert.match(out, /Only 4211 of 5000 codes left/);
  assert.match(out, /Canvas tote &amp; bag<\/a> 19.5/);
});
