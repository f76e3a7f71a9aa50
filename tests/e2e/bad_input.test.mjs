// Bad input changes nothing: each case below is a request that must be
// refused with its documented 4xx status and JSON error code, and the
// project's whole state (pools and counts, every code with its state,
// layers, settings, the event log) must be the same after it as before.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startWorker, createProject } from './worker.mjs';
import { allCodes, snapshot } from './state.mjs';

const PROJECT = 'bad';
let worker;
let api;
let initial;

/** A project with a bit of everything: codes in each state, layers, settings, events. */
before(async () => {
  worker = await startWorker();
  api = await createProject(worker.base, PROJECT);
  const ok = (res) => assert.ok(res.status === 200, `${res.status} ${res.text.slice(0, 300)}`);
  ok(await api.putPool('p', { description: 'spring' }));
  ok(await api.importCsv('p', `code\n${Array.from({ length: 10 }, (_, i) => `P-${i}`).join('\n')}\n`));
  ok(await api.putPool('q'));
  ok(await api.importJson('q', ['Q-1', 'Q-2', 'Q-3']));
  ok(await api.putLayer('l', { template: 'Code {{ vouchers["p"].assign_available_code() }}' }));
  // A stored layer whose pool does not exist (a template may name any pool).
  ok(await api.putLayer('orphan', { template: '{{ vouchers["ghost"].assign_available_code() }}' }));
  ok(await api.call('PUT', '/settings', {
    redemption: { event_type: 'purchase', property: 'voucher_code' },
    customer_signing_key: 'k'.repeat(32),
  }));
  for (const customer of ['ada', 'bob']) assert.equal((await api.render('l', customer)).status, 200);
  ok(await api.call('POST', '/campaigns/welcome/send', {
    template: '{{ vouchers["q"].assign_available_code() }}',
    customers: [{ id: 'cy' }, { id: 'dan' }],
  }));
  ok(await api.call('POST', '/events', { customer_id: 'ada', type: 'purchase', properties: { voucher_code: 'P-0' } }));
  initial = await snapshot(api);
  // The project really holds codes in every state.
  const states = (await allCodes(api, 'p')).map((c) => c.state);
  assert.deepEqual([...new Set(states)].sort(), ['assigned', 'available', 'redeemed']);
});
after(async () => { await worker?.stop(); });

const bytes = (...parts) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
const csv = { 'content-type': 'text/csv' };
const json = { 'content-type': 'application/json' };
const many = (n, f) => Array.from({ length: n }, (_, i) => f(i));
const purchase = { customer_id: 'bob', type: 'purchase', properties: { voucher_code: 'P-1' } };

/**
 * The cases: [name, method, path (under the project unless it starts with
 * /v1), body, headers, expected status, expected error code]. A body that
 * is an object is sent as JSON; strings and bytes as they are.
 */
const CASES = [
  // Import bodies.
  ['CSV: invalid UTF-8 in the header', 'POST', '/pools/p/import', bytes('code\xff\nA\n'.split('').map((c) => c.charCodeAt(0))), csv, 400, 'csv_not_utf8'],
  ['CSV: a UTF-16 file', 'POST', '/pools/p/import', Buffer.from('\ufeffcode\nNEW-1\n', 'utf16le'), csv, 400, 'csv_not_utf8'],
  ['CSV: 0 bytes', 'POST', '/pools/p/import', new Uint8Array(0), csv, 400, 'csv_empty'],
  ['CSV: only a BOM and blank lines', 'POST', '/pools/p/import', '\ufeff\n\n   \n', csv, 400, 'csv_empty'],
  ['CSV: binary (a zip file)', 'POST', '/pools/p/import', bytes('PK\x03\x04', new Uint8Array(64), 'code\nNEW-1\n'), csv, 400, 'csv_binary'],
  ['CSV: a first line of 70,000 bytes', 'POST', '/pools/p/import', `${'c'.repeat(70_000)}\nNEW-1\n`, csv, 400, 'csv_header_too_long'],
  ['CSV: several columns, none named code', 'POST', '/pools/p/import', 'id,voucher\n1,NEW-1\n', csv, 400, 'csv_no_code_column'],
  ['CSV: ?column= names a column the file lacks', 'POST', '/pools/p/import?column=voucher', 'code\nNEW-1\n', csv, 400, 'csv_no_such_column'],
  ['CSV: two columns named code', 'POST', '/pools/p/import', 'code;Code\nNEW-1;NEW-2\n', csv, 400, 'csv_duplicate_column'],
  ['CSV: SQL-looking codes into an unknown pool', 'POST', '/pools/ghost/import', "code\n'; DROP TABLE codes; --\n\" OR 1=1 --\n", csv, 404, 'unknown_pool'],
  ['JSON import: not JSON', 'POST', '/pools/p/import', '{"codes": ["NEW-1",', json, 400, 'invalid_json'],
  ['JSON import: codes is not a list', 'POST', '/pools/p/import', { codes: 'NEW-1' }, {}, 400, 'invalid_json'],
  ['JSON import: an unknown field', 'POST', '/pools/p/import', { codes: ['NEW-1'], pool: 'q' }, {}, 400, 'invalid_json'],
  ['JSON import: 0 bytes', 'POST', '/pools/p/import', new Uint8Array(0), json, 400, 'invalid_json'],
  ['JSON import: invalid UTF-8 in a code', 'POST', '/pools/p/import', bytes('{"codes": ["NEW-', [0xc3, 0x28], '"]}'), json, 400, 'invalid_json'],
  ['JSON import: over 16 MiB', 'POST', '/pools/p/import', `{"codes": [${'"NEW-0000000000",'.repeat(1_100_000)}"NEW-1"]}`, json, 413, 'body_too_large'],
  ['import: text/plain', 'POST', '/pools/p/import', 'code\nNEW-1\n', { 'content-type': 'text/plain' }, 415, 'unsupported_media_type'],
  ['import: no content type', 'POST', '/pools/p/import', bytes('code\nNEW-1\n'), {}, 415, 'unsupported_media_type'],
  ['import: a form', 'POST', '/pools/p/import', 'code=NEW-1', { 'content-type': 'application/x-www-form-urlencoded' }, 415, 'unsupported_media_type'],
  ['import: SQL in the pool name', 'POST', "/pools/p'%3B%20DROP%20TABLE%20codes%3B--/import", 'code\nNEW-1\n', csv, 400, 'invalid_pool_name'],

  // Templates.
  ['layer: a syntax error', 'PUT', '/layers/l2', { template: 'Hi {{ customer.id ' }, {}, 422, 'template_syntax_error'],
  ['layer: a block never closed', 'PUT', '/layers/l2', { template: '{% for x in y %}{{ x }}' }, {}, 422, 'template_syntax_error'],
  ['layer: an unknown tag', 'PUT', '/layers/l2', { template: '{% frobnicate %}' }, {}, 422, 'template_syntax_error'],
  ['layer: a broken template over a good one', 'PUT', '/layers/l', { template: '{% if %}' }, {}, 422, 'template_syntax_error'],
  ['layer: over 64 KiB', 'PUT', '/layers/l2', { template: 'x'.repeat(70_000) }, {}, 422, 'template_too_large'],
  ['layer: 5,000 unary minus in one expression', 'PUT', '/layers/l2', { template: `{{ ${'-'.repeat(5000)}1 }}` }, {}, 422, 'template_too_complex'],
  ['layer: 20,000 attribute lookups in a row', 'PUT', '/layers/l2', { template: `{{ x${'.a'.repeat(20_000)} }}` }, {}, 422, 'template_too_complex'],
  ['layer: 5,000 elif branches', 'PUT', '/layers/l2', { template: `{% if x %}${'{% elif x %}'.repeat(5000)}{% endif %}` }, {}, 422, 'template_too_complex'],
  ['layer: an unknown assignment mode', 'PUT', '/layers/l2', { template: 'x', assignment: 'per_moon' }, {}, 400, 'invalid_json'],
  ['layer: 0 bytes', 'PUT', '/layers/l2', new Uint8Array(0), json, 400, 'missing_body'],
  ['render: a loop without end', 'POST', '/render', { template: '{% for i in range(100000) %}{% for j in range(100000) %}{{ vouchers["p"].count_available_codes() }}{% endfor %}{% endfor %}' }, {}, 422, 'template_too_slow'],
  ['render: recursion without end', 'POST', '/render', { template: '{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}{{ vouchers["p"].assign_available_code() }}' }, {}, 422, 'template_error'],
  ['render: huge output', 'POST', '/render', { template: '{{ vouchers["p"].assign_available_code() }}{% for i in range(100) %}{{ "x" * 10000 }}{% endfor %}' }, {}, 422, 'output_too_large'],
  ['render: a string blown up', 'POST', '/render', { template: '{{ vouchers["p"].assign_available_code() }}{{ "x" * 1000000000 }}' }, {}, 422, 'template_too_large'],
  ['render: an unknown pool', 'POST', '/render', { template: '{{ vouchers["ghost"].assign_available_code() }}' }, {}, 404, 'unknown_pool'],
  ['render: an unknown voucher function', 'POST', '/render', { template: '{{ vouchers["p"].drop_table() }}' }, {}, 422, 'template_error'],
  ['render: SQL as a pool name', 'POST', '/render', { template: `{{ vouchers["p'; DELETE FROM codes; --"].assign_available_code() }}` }, {}, 422, 'template_error'],
  ['render: fails only once it holds a code (the code goes back)', 'POST', '/render', { template: '{% set c = vouchers["p"].assign_available_code() %}{% if c %}{{ c / 2 }}{% endif %}' }, {}, 422, 'template_error'],
  ['render: the context is not an object', 'POST', '/render', { template: 'x', context: [1, 2] }, {}, 400, 'invalid_json'],
  ['render: text/plain', 'POST', '/render', '{"template": "x"}', { 'content-type': 'text/plain' }, 415, 'unsupported_media_type'],
  ['campaign: a syntax error', 'POST', '/campaigns/c1/send', { template: '{{ vouchers["p"].assign_available_code() ', customers: [{ id: 'x' }] }, {}, 422, 'template_syntax_error'],
  ['campaign: no customers', 'POST', '/campaigns/c1/send', { template: 'x', customers: [] }, {}, 400, 'invalid_customers'],
  ['campaign: an empty customer id', 'POST', '/campaigns/c1/send', { template: 'x', customers: [{ id: '' }] }, {}, 400, 'invalid_customer_id'],
  ['campaign: 10,001 customers', 'POST', '/campaigns/c1/send', { template: '{{ vouchers["p"].assign_available_code() }}', customers: many(10_001, (i) => ({ id: `c${i}` })) }, {}, 400, 'invalid_customers'],
  ['campaign: an unknown pool', 'POST', '/campaigns/c1/send', { template: '{{ vouchers["ghost"].assign_available_code() }}', customers: [{ id: 'x' }, { id: 'y' }] }, {}, 404, 'unknown_pool'],
  ['campaign: a name with a space', 'POST', '/campaigns/c%201/send', { template: 'x', customers: [{ id: 'x' }] }, {}, 400, 'invalid_campaign_name'],
  ['campaign: an unknown field', 'POST', '/campaigns/c1/send', { template: 'x', customers: [{ id: 'x' }], schedule: 'now' }, {}, 400, 'invalid_json'],

  // Events.
  ['events: not JSON', 'POST', '/events', '{"customer_id": ', json, 400, 'invalid_json'],
  ['events: no customer id', 'POST', '/events', { type: 'purchase' }, {}, 400, 'invalid_event'],
  ['events: an empty list', 'POST', '/events', [], {}, 400, 'invalid_event'],
  ['events: 1,001 events', 'POST', '/events', many(1001, () => purchase), {}, 400, 'invalid_event'],
  ['events: events is not a list', 'POST', '/events', { events: purchase }, {}, 400, 'invalid_event'],
  ['events: a bad timestamp refuses the whole batch', 'POST', '/events', [purchase, { ...purchase, timestamp: 'yesterday' }], {}, 400, 'invalid_event'],
  ['events: 0 bytes', 'POST', '/events', new Uint8Array(0), json, 400, 'missing_body'],
  ['events: text/plain', 'POST', '/events', JSON.stringify(purchase), { 'content-type': 'text/plain' }, 415, 'unsupported_media_type'],
  ['event log: limit=0', 'GET', '/events?limit=0', undefined, {}, 400, 'invalid_limit'],
  ['event log: an unknown filter', 'GET', '/events?code=P-0', undefined, {}, 400, 'unknown_parameter'],
  ['event log: SQL in the cursor', 'GET', "/events?cursor=1%20OR%201%3D1", undefined, {}, 400, 'invalid_cursor'],

  // Settings.
  ['settings: a signing key too short', 'PUT', '/settings', { customer_signing_key: 'short' }, {}, 400, 'invalid_settings'],
  ['settings: an unknown field', 'PUT', '/settings', { redemption: null, admin: true }, {}, 400, 'invalid_json'],
  ['settings: a redemption without property', 'PUT', '/settings', { redemption: { event_type: 'purchase' } }, {}, 400, 'invalid_json'],

  // URLs and methods.
  ['an unknown pool', 'GET', '/pools/ghost', undefined, {}, 404, 'unknown_pool'],
  ['codes of an unknown pool', 'GET', '/pools/ghost/codes', undefined, {}, 404, 'unknown_pool'],
  ['an unknown layer', 'GET', '/layers/ghost', undefined, {}, 404, 'unknown_layer'],
  ['public render of an unknown layer', 'GET', '/layers/ghost/render?customer_id=x', undefined, { authorization: '' }, 404, 'unknown_layer'],
  ['public render of a layer whose pool is missing', 'GET', '/layers/orphan/render?customer_id=x', undefined, { authorization: '' }, 404, 'unknown_pool'],
  ['no such route', 'GET', '/vouchers', undefined, {}, 404, 'no_such_route'],
  ['POST to a pool\'s codes', 'POST', '/pools/p/codes', undefined, {}, 405, 'method_not_allowed'],
  ['POST to a pool', 'POST', '/pools/p', { description: 'x' }, {}, 405, 'method_not_allowed'],
  ['PATCH a layer', 'PATCH', '/layers/l', { active: false }, {}, 405, 'method_not_allowed'],
  ['POST to the public render', 'POST', '/layers/l/render?customer_id=x', undefined, {}, 405, 'method_not_allowed'],
  ['codes: an unknown state', 'GET', '/pools/p/codes?state=stolen', undefined, {}, 400, 'invalid_state'],
  ['codes: limit 5000', 'GET', '/pools/p/codes?limit=5000', undefined, {}, 400, 'invalid_limit'],
  ['codes: SQL in the cursor', 'GET', "/pools/p/codes?cursor=c1%20OR%201%3D1", undefined, {}, 400, 'invalid_cursor'],
  ['codes: a misspelt parameter', 'GET', '/pools/p/codes?stat=assigned', undefined, {}, 400, 'unknown_parameter'],
  ['codes: limit given twice', 'GET', '/pools/p/codes?limit=1&limit=2', undefined, {}, 400, 'unknown_parameter'],
  ['activity: days=0', 'GET', '/pools/p/activity?days=0', undefined, {}, 400, 'invalid_days'],
  ['a query on a route that takes none', 'GET', '/pools?limit=3', undefined, {}, 400, 'unknown_parameter'],
  ['import: an unknown parameter', 'POST', '/pools/p/import?colum=code', 'code\nNEW-1\n', csv, 400, 'unknown_parameter'],
  ['a project name with a space', 'GET', '/v1/projects/a%20b/pools', undefined, {}, 400, 'invalid_project_name'],
  ['a pool name of 65 characters', 'PUT', `/pools/${'p'.repeat(65)}`, {}, {}, 400, 'invalid_pool_name'],
  ['a pool name that is not UTF-8 (%FF)', 'PUT', '/pools/%FF', {}, {}, 400, 'invalid_pool_name'],
  ['a layer name with a slash (%2F)', 'PUT', '/layers/a%2Fb', { template: 'x' }, {}, 400, 'invalid_layer_name'],

  // Headers.
  ['layer sent as text/csv', 'PUT', '/layers/l2', '{"template": "x"}', csv, 415, 'unsupported_media_type'],
  ['layer sent as UTF-16 JSON', 'PUT', '/layers/l2', Buffer.from('{"template": "x"}', 'utf16le'), { 'content-type': 'application/json; charset=utf-16' }, 400, 'invalid_json'],
  ['pool with a 2 MiB description', 'PUT', '/pools/p', { description: 'd'.repeat(2 * 1024 * 1024) }, {}, 413, 'body_too_large'],
  ['a Basic authorization', 'GET', '/pools', undefined, { authorization: 'Basic YWRtaW46YWRtaW4=' }, 401, 'unauthorized'],
  ['the token in the query string', 'GET', `/pools?token=${encodeURIComponent('e2e-admin-token')}`, undefined, { authorization: '' }, 401, 'unauthorized'],
];

/**
 * Sends one case's request; an empty `authorization` header means none.
 * Through node:http rather than fetch: the Worker may refuse a body by its
 * declared length and answer before it has read it, and fetch then reports
 * the closed upload instead of the answer.
 */
function send(method, path, body, headers) {
  const url = worker.base + (path.startsWith('/v1') ? path : `/v1/projects/${PROJECT}${path}`);
  const all = { authorization: 'Bearer e2e-admin-token', ...headers };
  if (all.authorization === '') delete all.authorization;
  let payload;
  if (body !== undefined) {
    const raw = typeof body === 'string' || body instanceof Uint8Array;
    payload = Buffer.from(raw ? body : JSON.stringify(body));
    if (!raw) all['content-type'] ??= 'application/json';
    all['content-length'] = String(payload.length);
  }
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request(url, { method, headers: all }, (res) => {
      answered = true;
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode,
        type: res.headers['content-type'],
        headers: res.headers,
        text: Buffer.concat(chunks).toString(),
      }));
      res.on('error', reject);
    });
    req.setTimeout(60_000, () => req.destroy(new Error('no answer in 60 s')));
    // An upload cut short after the answer came is fine (see above).
    req.on('error', (err) => { if (!answered) reject(err); });
    if (payload && payload.length > 1024 * 1024) {
      // A large body waits for the server's go-ahead, so a refusal by the
      // declared length arrives as an answer, not as a reset upload.
      req.setHeader('expect', '100-continue');
      req.on('continue', () => req.end(payload));
      req.flushHeaders();
    } else {
      req.end(payload);
    }
  });
}

test(`the corpus has at least 40 cases (${CASES.length})`, () => {
  assert.ok(CASES.length >= 40);
  assert.equal(new Set(CASES.map((c) => c[0])).size, CASES.length, 'case names are distinct');
});

for (const [name, method, path, body, headers, status, code] of CASES) {
  test(`${name}: ${status} ${code}, nothing changes`, async () => {
    const res = await send(method, path, body, headers);
    assert.equal(res.status, status, res.text.slice(0, 300));
    assert.match(res.type ?? '', /^application\/json/, 'a JSON answer');
    const error = JSON.parse(res.text).error;
    assert.equal(error.code, code, error.message);
    assert.ok(typeof error.message === 'string' && error.message.length > 0);
    assert.deepEqual(await snapshot(api), initial);
  });
}

test('SQL-looking codes are stored and handed out as plain text', async () => {
  const codes = [
    "'; DROP TABLE codes; --",
    '" OR 1=1 --',
    "Robert'); DELETE FROM pools;--",
    "%' OR '%'='",
    '1; UPDATE codes SET state = 0',
  ];
  const before = await snapshot(api);
  assert.equal((await api.putPool('sql')).status, 200);
  const quoted = codes.map((c) => `"${c.replaceAll('"', '""')}"`);
  const res = await api.importCsv('sql', `code\n${quoted.join('\n')}\n`);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.imported, codes.length);
  const stored = await allCodes(api, 'sql');
  assert.deepEqual(stored.map((c) => c.code).sort(), [...codes].sort());
  // Handed out as text (HTML-escaped in the page), recorded as such.
  const shown = await api.call('POST', '/render', { template: '{{ vouchers["sql"].assign_available_code() }}', customer_id: 'eve' });
  assert.equal(shown.status, 200, shown.text);
  const [code] = shown.json.codes.sql;
  assert.ok(codes.includes(code));
  assert.ok(!shown.json.output.includes("'") && !shown.json.output.includes('"'), shown.json.output);
  const after = await snapshot(api);
  assert.equal((await allCodes(api, 'sql', { state: 'assigned' }))[0].customer_id, 'eve');
  // Everything else is as it was.
  for (const key of ['layers', 'settings', 'events']) assert.deepEqual(after[key], before[key], key);
  for (const pool of Object.keys(before.codes)) assert.deepEqual(after.codes[pool], before.codes[pool], pool);
  assert.deepEqual(after.pools.filter((p) => p.name !== 'sql'), before.pools);
});

test('errors carry what a client needs as fields: a template error its place, a 405 its methods', async () => {
  const before = await snapshot(api);
  const syntax = await api.call('PUT', '/layers/broken', { template: 'Hello\n  {{ customer.name + }}' });
  assert.equal(syntax.status, 422, syntax.text);
  const { error } = syntax.json;
  assert.equal(error.code, 'template_syntax_error');
  assert.deepEqual([error.line, error.column], [2, 22], error.message);
  assert.match(error.message, /^line 2, column 22: /);
  assert.equal(error.id, undefined, 'only a 5xx answer carries an id');
  const deep = await api.call('POST', '/render', { template: `a\n{{ ${'-'.repeat(300)}1 }}`, preview: true });
  assert.equal(deep.status, 422, deep.text);
  assert.equal(deep.json.error.code, 'template_too_complex');
  assert.deepEqual([deep.json.error.line, deep.json.error.column], [2, undefined], 'a line and no made-up column');
  const method = await send('PATCH', '/pools/p', undefined, {});
  assert.equal(method.status, 405);
  assert.equal(method.headers.allow, 'PUT, GET, DELETE');
  assert.deepEqual(await snapshot(api), before);
});
