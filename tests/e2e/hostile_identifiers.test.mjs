// Hostile identifiers (issue 13, findings 4, 8, 9 and 10), end to end under
// workerd: customer ids and display queries are bounded and canonical on
// every route (a bad one is refused with its 4xx and changes nothing), the
// CSV export runs in no spreadsheet, lookalike codes are refused or are the
// same code, and redemption by someone other than a code's holder is logged
// as `holder_mismatch`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { startWorker, client, createProject, TRACKING_TOKEN } from './worker.mjs';
import { allCodes, allEvents, snapshot } from './state.mjs';

const PROJECT = 'ids';
let worker;
let api;
let initial;

before(async () => {
  worker = await startWorker();
  api = await createProject(worker.base, PROJECT);
  const ok = (res) => assert.equal(res.status, 200, res.text.slice(0, 300));
  ok(await api.putPool('p'));
  ok(await api.importJson('p', Array.from({ length: 20 }, (_, i) => `P-${i}`)));
  ok(await api.putLayer('l', { template: 'Code {{ vouchers["p"].assign_available_code() }} {{ params.utm }}' }));
  ok(await api.call('PUT', '/settings', { redemption: { event_type: 'purchase', property: 'voucher_code' } }));
  ok(await api.render('l', 'ada'));
  initial = await snapshot(api);
});
after(async () => { await worker?.stop(); });

/**
 * Sends a request as it is written (node:http: fetch would normalise the
 * URL); an empty `authorization` means none.
 */
function send(method, path, body, headers = {}) {
  const url = `${worker.base}/v1/projects/${PROJECT}${path}`;
  const all = { authorization: 'Bearer e2e-admin-token', ...headers };
  if (all.authorization === '') delete all.authorization;
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  if (payload) {
    all['content-type'] = 'application/json';
    all['content-length'] = String(payload.length);
  }
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: all }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const display = (query) => send('GET', `/layers/l/render?${query}`, undefined, { authorization: '' });
const enc = encodeURIComponent;
const many = (n, f) => Array.from({ length: n }, (_, i) => f(i));
const template = '{{ vouchers["p"].assign_available_code() }}';

/**
 * Finding 4: [name, method, path, body, public?, status, error code]. Each
 * is refused before anything is stored or reserved.
 */
const CASES = [
  ['display: a customer id of 100,000 characters', 'GET', `/layers/l/render?customer_id=${'a'.repeat(100_000)}`, undefined, true, 400, 'invalid_customer_id'],
  ['display: a customer id of 257 characters', 'GET', `/layers/l/render?customer_id=${'a'.repeat(257)}`, undefined, true, 400, 'invalid_customer_id'],
  ['display: %FF, not UTF-8', 'GET', '/layers/l/render?customer_id=%FF', undefined, true, 400, 'invalid_customer_id'],
  ['display: a cut UTF-8 sequence', 'GET', '/layers/l/render?customer_id=ab%C3', undefined, true, 400, 'invalid_customer_id'],
  ['display: U+FFFD sent as such', 'GET', '/layers/l/render?customer_id=%EF%BF%BD', undefined, true, 400, 'invalid_customer_id'],
  ['display: NUL in the id', 'GET', '/layers/l/render?customer_id=a%00b', undefined, true, 400, 'invalid_customer_id'],
  ['display: a newline in the id', 'GET', '/layers/l/render?customer_id=a%0Ab', undefined, true, 400, 'invalid_customer_id'],
  ['display: U+202E (right-to-left override) in the id', 'GET', `/layers/l/render?customer_id=${enc('ada\u202Egnp.exe')}`, undefined, true, 400, 'invalid_customer_id'],
  ['display: a zero-width space in the id', 'GET', `/layers/l/render?customer_id=${enc('a\u200Bda')}`, undefined, true, 400, 'invalid_customer_id'],
  ['display: a trailing space', 'GET', '/layers/l/render?customer_id=ada%20', undefined, true, 400, 'invalid_customer_id'],
  ['display: %FF in a template parameter', 'GET', '/layers/l/render?customer_id=ada&utm=%FF', undefined, true, 400, 'invalid_parameter'],
  ['display: 33 template parameters', 'GET', `/layers/l/render?${many(33, (i) => `p${i}=x`).join('&')}`, undefined, true, 400, 'invalid_parameter'],
  ['display: a parameter value of 1,025 characters', 'GET', `/layers/l/render?utm=${'v'.repeat(1025)}`, undefined, true, 400, 'invalid_parameter'],
  ['display: a parameter name of 65 characters', 'GET', `/layers/l/render?${'n'.repeat(65)}=1`, undefined, true, 400, 'invalid_parameter'],
  ['display: a sig of 10,000 characters', 'GET', `/layers/l/render?customer_id=ada&sig=${'0'.repeat(10_000)}`, undefined, true, 400, 'invalid_parameter'],
  ['POST /render: a customer id of 300,000 characters', 'POST', '/render', { template, customer_id: 'b'.repeat(300_000) }, false, 400, 'invalid_customer_id'],
  ['POST /render: an empty customer id', 'POST', '/render', { template, customer_id: '' }, false, 400, 'invalid_customer_id'],
  ['POST /render: a bidi override', 'POST', '/render', { template, customer_id: 'a\u202Eb' }, false, 400, 'invalid_customer_id'],
  ['campaign: a customer id with NUL', 'POST', '/campaigns/c1/send', { template, customers: [{ id: 'ok' }, { id: 'x\u0000' }] }, false, 400, 'invalid_customer_id'],
  ['campaign: a customer id of 257 characters', 'POST', '/campaigns/c1/send', { template, customers: [{ id: 'c'.repeat(257) }] }, false, 400, 'invalid_customer_id'],
  ['events: a customer id with a line break', 'POST', '/events', [{ customer_id: 'ada', type: 'purchase', properties: { voucher_code: 'P-0' } }, { customer_id: 'a\nb', type: 'view' }], false, 400, 'invalid_customer_id'],
  ['event log: %FF as the customer filter', 'GET', '/events?customer_id=%FF', undefined, false, 400, 'invalid_customer_id'],
  ['codes: %FF as the state', 'GET', '/pools/p/codes?state=%FF', undefined, false, 400, 'invalid_parameter'],
];

for (const [name, method, path, body, isPublic, status, code] of CASES) {
  test(`${name}: ${status} ${code}, nothing changes`, async () => {
    const res = await send(method, path, body, isPublic ? { authorization: '' } : {});
    assert.equal(res.status, status, res.text.slice(0, 300));
    assert.match(res.type ?? '', /^application\/json/);
    const error = JSON.parse(res.text).error;
    assert.equal(error.code, code, error.message);
    // The message says what is wrong without repeating a long id.
    assert.ok(error.message.length < 300, error.message);
    assert.deepEqual(await snapshot(api), initial);
  });
}

test('ids at the limits are taken as they are', async () => {
  const before = await snapshot(api);
  const longest = 'é'.repeat(256);
  const res = await display(`customer_id=${enc(longest)}&utm=${'v'.repeat(1024)}&${many(31, (i) => `p${i}=x`).join('&')}`);
  assert.equal(res.status, 200, res.text.slice(0, 300));
  const spaced = await display(`customer_id=${enc('Zoë Müller')}`);
  assert.equal(spaced.status, 200, spaced.text);
  const holders = (await allCodes(api, 'p', { state: 'assigned' })).map((c) => c.customer_id);
  assert.ok(holders.includes(longest) && holders.includes('Zoë Müller'), holders.join(' | ').slice(0, 300));
  // Put the project back as the table expects it: new codes were taken.
  assert.equal((await allCodes(api, 'p', { state: 'assigned' })).length, before.pools[0].assigned + 2);
  initial = await snapshot(api);
});

test('2,000 displays with 15 KB customer ids store nothing', async () => {
  const id = 'x'.repeat(15_000);
  for (let round = 0; round < 40; round++) {
    const answers = await Promise.all(many(50, (i) => display(`customer_id=${id}${round}-${i}`)));
    for (const res of answers) assert.equal(res.status, 400, res.text.slice(0, 200));
  }
  assert.deepEqual(await snapshot(api), initial);
});

/** The cells of a CSV text as a reader with this separator sees them (RFC 4180 quotes). */
function cells(text, separator) {
  const rows = [[]];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (c === '"') quoted = false; else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === separator) { rows.at(-1).push(cell); cell = ''; } else if (c === '\n') { rows.at(-1).push(cell); cell = ''; rows.push([]); } else cell += c;
  }
  if (rows.at(-1).length === 0 && cell === '') rows.pop(); else rows.at(-1).push(cell);
  return rows;
}

test('finding 8: the export runs in no spreadsheet, whatever its separator', async () => {
  const api = await createProject(worker.base, 'export');
  await api.putPool('x');
  assert.equal((await api.importJson('x', ['X-1', 'X-2', 'X-3', 'X-4', 'X-5', 'X-6'])).status, 200);
  await api.putLayer('l', { template: '{{ vouchers["x"].assign_available_code() }}' });
  const hostile = ['x;=1+1;', 'x,=1+1', '@SUM(1)', '-2+3', '+1', '=HYPERLINK("http://evil","click")'];
  for (const id of hostile) assert.equal((await api.render('l', id)).status, 200);
  const res = await api.exportCsv('x');
  assert.equal(res.status, 200);
  const lines = res.text.trimEnd().split('\n');
  // Every field is quoted.
  for (const line of lines) assert.match(line, /^"(?:[^"]|"")*"(?:,"(?:[^"]|"")*")*$/, line);
  for (const separator of [',', ';', '\t']) {
    for (const row of cells(res.text, separator)) {
      for (const cell of row) assert.doesNotMatch(cell, /^[=+\-@\t\r]/, `separator ${JSON.stringify(separator)}: ${JSON.stringify(cell)}`);
    }
  }
  // Read as the comma file it is: each id, prefixed where it would run.
  const ids = cells(res.text, ',').slice(1).map((row) => row[3]);
  assert.deepEqual(ids.sort(), ["'+1", "'-2+3", "'=HYPERLINK(\"http://evil\",\"click\")", "'@SUM(1)", 'x,=1+1', 'x;=1+1;'].sort());

  // A code may not begin like a formula, so the code column needs no prefix.
  const codes = await api.importJson('x', ['=HYPERLINK("http://evil","click")', '+49', '-5OFF', '@home', 'OK=1']);
  assert.equal(codes.status, 200, codes.text);
  assert.deepEqual([codes.json.imported, codes.json.invalid], [1, 4]);
  assert.match(codes.json.invalid_samples[0].reason, /^code begins with U\+003D '=': spreadsheets run such a cell as a formula/);

  // The export's code column imports back as the same codes, in a new project.
  const copy = await createProject(worker.base, 'export-copy');
  await copy.putPool('x');
  const again = await copy.importCsv('x', (await api.exportCsv('x')).text);
  assert.equal(again.status, 200, again.text);
  assert.deepEqual([again.json.column, again.json.imported, again.json.invalid], ['code', 7, 0]);
  const names = async (c) => (await allCodes(c, 'x')).map((code) => code.code).sort();
  assert.deepEqual(await names(copy), await names(api));
});

test('finding 9: lookalikes of a code are refused or are the same code', async () => {
  const api = await createProject(worker.base, 'lookalikes');
  await api.putPool('p');
  // CODE-1 and 18 lookalikes, and CAFÉ-1 composed and decomposed (tests/import/).
  const file = fs.readFileSync(new URL('../import/lookalikes.csv', import.meta.url));
  const res = await api.importCsv('p', file);
  assert.equal(res.status, 200, res.text);
  const { total_rows, imported, duplicates_in_file, already_in_project, invalid } = res.json;
  assert.deepEqual({ total_rows, imported, duplicates_in_file, already_in_project, invalid },
    { total_rows: 20, imported: 2, duplicates_in_file: 4, already_in_project: 0, invalid: 14 });
  const reasons = res.json.invalid_samples.map((s) => s.reason);
  for (const cp of ['FE0F', 'E0041', 'FFF9', '034F', '3164', '2800', '180B']) {
    assert.ok(reasons.some((r) => r.startsWith(`code contains U+${cp} at position`)), cp);
  }
  assert.ok(reasons.includes("code mixes Latin and Cyrillic letters (U+041E '\u041E' at position 2 is Cyrillic): it would look like another code"));
  assert.equal(reasons.filter((r) => r.startsWith('code contains the dash')).length, 6);
  const stored = (await allCodes(api, 'p')).map((c) => c.code).sort();
  assert.deepEqual(stored, ['CAFÉ-1', 'CODE-1']);

  // Any spelling of them later is already in the project.
  const later = await api.importJson('p', ['code-1', 'Code-1', '\uFF23\uFF2F\uFF24\uFF25-1', 'cafe\u0301-1']);
  assert.deepEqual([later.json.imported, later.json.already_in_project], [0, 4]);

  // A shopper who types the code in lowercase redeems it.
  await api.putLayer('l', { template });
  await api.call('PUT', '/settings', { redemption: { event_type: 'purchase', property: 'voucher_code' } });
  const shown = (await api.render('l', 'ada')).text;
  const typed = await api.call('POST', '/events', { customer_id: 'ada', type: 'purchase', properties: { voucher_code: shown.toLowerCase() } });
  assert.equal(typed.status, 200, typed.text);
  assert.equal(typed.json.results[0].redemption, 'redeemed');
  assert.equal((await api.getPool('p')).json.redeemed, 1);
});

test('finding 10: a purchase by someone other than the holder is a holder_mismatch', async () => {
  const api = await createProject(worker.base, 'holder');
  const tracker = client(worker.base, 'holder', TRACKING_TOKEN);
  await api.putPool('p');
  await api.importJson('p', ['H-1', 'H-2']);
  await api.putLayer('l', { template });
  const aliceCode = (await api.render('l', 'alice')).text;
  const bobCode = (await api.render('l', 'bob')).text;
  const state = async (code) => (await allCodes(api, 'p')).find((c) => c.code === code);
  const purchase = (customer, code) => tracker.call('POST', '/events', { customer_id: customer, type: 'purchase', properties: { voucher_code: code } });

  // The default: redeemed all the same, and logged as a mismatch.
  const settings = await api.call('PUT', '/settings', { redemption: { event_type: 'purchase', property: 'voucher_code' } });
  assert.deepEqual(settings.json.redemption, { event_type: 'purchase', property: 'voucher_code', require_holder: false });
  const res = await purchase('mallory', aliceCode);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json.results, [{ index: 0, redemption: 'holder_mismatch', code: aliceCode, redeemed: true }]);
  assert.equal((await state(aliceCode)).state, 'redeemed');
  assert.equal((await state(aliceCode)).customer_id, 'alice');

  // Required: the code stays with its holder, until the holder redeems it.
  const strict = await api.call('PUT', '/settings', { redemption: { event_type: 'purchase', property: 'voucher_code', require_holder: true } });
  assert.equal(strict.status, 200, strict.text);
  assert.equal((await api.call('GET', '/settings')).json.redemption.require_holder, true);
  const refused = await purchase('mallory', bobCode);
  assert.deepEqual(refused.json.results, [{ index: 0, redemption: 'holder_mismatch', code: bobCode, redeemed: false }]);
  assert.equal((await state(bobCode)).state, 'assigned');
  const own = await purchase('bob', bobCode);
  assert.deepEqual(own.json.results, [{ index: 0, redemption: 'redeemed', code: bobCode }]);

  const log = await allEvents(api, { status: 'holder_mismatch' });
  assert.deepEqual(log.map((e) => [e.customer_id, e.code]), [['mallory', bobCode], ['mallory', aliceCode]]);
  const pool = (await api.getPool('p')).json;
  assert.deepEqual([pool.available, pool.assigned, pool.redeemed], [0, 0, 2]);
});
