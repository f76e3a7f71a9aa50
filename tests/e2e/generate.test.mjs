// Generated codes end to end under workerd: POST /pools/{pool}/generate
// fills a pool with random codes of a pattern, unique in the project, and
// answers an import's report; bad patterns and charsets, a pattern too
// small for the count, an unknown pool and the wrong keys change nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, createProject, client } from './worker.mjs';
import { allCodes, snapshot } from './state.mjs';

let worker;
let api;
before(async () => {
  worker = await startWorker();
  api = await createProject(worker.base, 'gen');
});
after(async () => { await worker?.stop(); });

const READABLE = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
const generate = (pool, body, c = api) => c.call('POST', `/pools/${pool}/generate`, body);

/** The counts of a report, checked to add up with nothing invalid. */
const counts = (report) => {
  const { total_rows, imported, duplicates_in_file, already_in_project, invalid } = report;
  assert.equal(total_rows, imported + duplicates_in_file + already_in_project, 'every candidate is counted');
  assert.equal(invalid, 0);
  assert.deepEqual(report.invalid_samples, []);
  assert.equal(report.column, undefined, 'no CSV column');
  return { imported, total_rows };
};

test('20,000 codes of a pattern: the report, the pool, unique codes that match the pattern', async () => {
  assert.equal((await api.putPool('spring')).status, 200);
  const res = await generate('spring', { count: 20_000, pattern: 'SPRING-####-####' });
  assert.equal(res.status, 200, res.text);
  const { imported, total_rows } = counts(res.json);
  assert.equal(imported, 20_000);
  // 31^8 codes: a collision is possible (and drawn again), many are not.
  assert.ok(total_rows < 20_050, res.text);
  const pool = (await api.getPool('spring')).json;
  assert.deepEqual([pool.total, pool.available, pool.assigned, pool.redeemed], [20_000, 20_000, 0, 0]);
  const codes = (await allCodes(api, 'spring')).map((c) => c.code);
  assert.equal(codes.length, 20_000);
  assert.equal(new Set(codes.map((c) => c.toLowerCase())).size, 20_000, 'unique');
  const shape = new RegExp(`^SPRING-[${READABLE}]{4}-[${READABLE}]{4}$`);
  for (const code of codes) assert.match(code, shape);
  // Every character of the charset turns up; the lookalikes never do.
  const drawn = new Set(codes.flatMap((c) => [...c.slice(7, 11), ...c.slice(12)]));
  assert.deepEqual([...drawn].sort().join(''), READABLE);
});

test('a named or explicit charset, and codes a layer then hands out', async () => {
  await api.putPool('digits');
  const res = await generate('digits', { count: 500, pattern: 'GIFT-######', charset: 'digits' });
  assert.equal(res.status, 200, res.text);
  assert.equal(counts(res.json).imported, 500);
  for (const { code } of await allCodes(api, 'digits')) assert.match(code, /^GIFT-\d{6}$/);
  await api.putPool('vip');
  const vip = await generate('vip', { count: 100, pattern: 'VIP #####', charset: 'ACDEFHJKMNPRTWXY34679' });
  assert.equal(vip.status, 200, vip.text);
  for (const { code } of await allCodes(api, 'vip')) assert.match(code, /^VIP [ACDEFHJKMNPRTWXY34679]{5}$/);
  assert.equal((await api.putLayer('vip', { template: '{{ vouchers["vip"].assign_available_code() }}' })).status, 200);
  const shown = await api.render('vip', 'ada');
  assert.equal(shown.status, 200);
  assert.match(shown.text, /^VIP [ACDEFHJKMNPRTWXY34679]{5}$/);
});

test('candidates already in the project are drawn again', async () => {
  // `##` over digits: 100 codes, half of them taken by another pool.
  await api.putPool('taken');
  const taken = Array.from({ length: 50 }, (_, i) => String(i * 2).padStart(2, '0'));
  assert.equal((await api.importJson('taken', taken)).json.imported, 50);
  await api.putPool('pairs');
  let collisions = 0;
  for (let i = 0; i < 20; i++) {
    const res = await generate('pairs', { count: 1, pattern: '##', charset: 'digits' });
    assert.equal(res.status, 200, res.text);
    assert.equal(counts(res.json).imported, 1);
    collisions += res.json.already_in_project;
  }
  // Each run drew until it found a free code: at least half the
  // candidates collide, so 20 runs without one is one chance in a million.
  assert.ok(collisions > 0);
  const pairs = (await allCodes(api, 'pairs')).map((c) => c.code);
  assert.equal(pairs.length, 20);
  assert.equal(new Set(pairs).size, 20);
  for (const code of pairs) assert.ok(!taken.includes(code), code);
});

test('a pattern whose codes are all taken ends with pattern_exhausted, and adds nothing', async () => {
  await api.putPool('all');
  const all = Array.from({ length: 100 }, (_, i) => `X${String(i).padStart(2, '0')}`);
  assert.equal((await api.importJson('all', all)).json.imported, 100);
  await api.putPool('none');
  const res = await generate('none', { count: 1, pattern: 'x##', charset: 'digits' });
  assert.equal(res.status, 409, res.text);
  assert.equal(res.json.error.code, 'pattern_exhausted');
  assert.match(res.json.error.message, /^only 0 of 1 codes could be generated: of 68 candidates drawn in 68 rounds, 68 were codes of the project already/);
  assert.equal((await api.getPool('none')).json.total, 0);
});

test('a pattern too small for the count is refused with how many codes it holds', async () => {
  await api.putPool('small');
  const res = await generate('small', { count: 50, pattern: '##' });
  assert.equal(res.status, 422, res.text);
  assert.deepEqual(res.json.error, {
    code: 'pattern_too_small',
    message: 'pattern "##" over 31 characters holds 961 codes; generating 50 needs a pattern that holds at least '
      + '5000 (100× the count): add 1 placeholder (or use a larger charset)',
  });
  const digits = await generate('small', { count: 1000, pattern: 'SPRING-####', charset: 'digits' });
  assert.equal(digits.status, 422);
  assert.match(digits.json.error.message, /holds 10000 codes; generating 1000 needs a pattern that holds at least 100000/);
});

test('bad requests are refused with their error and change nothing', async () => {
  await api.putPool('bad');
  const before = await snapshot(api);
  const cases = [
    [{ count: 10, pattern: '####', charset: 'aA' }, 422, 'invalid_charset', /U\+0061 'a' and U\+0041 'A', which are one character of a code/],
    [{ count: 10, pattern: '####', charset: 'AABC' }, 422, 'invalid_charset', /holds U\+0041 'A' twice/],
    [{ count: 1, pattern: '####', charset: 'A' }, 422, 'invalid_charset', /at least 2 characters/],
    [{ count: 1, pattern: '####', charset: 'AB C' }, 422, 'invalid_charset', /U\+0020/],
    [{ count: 1, pattern: '####', charset: 'numeric' }, 422, 'invalid_charset', /no named charset/],
    [{ count: 1, pattern: '####', charset: 'ABCЖ' }, 422, 'invalid_charset', /mixes Latin and Cyrillic/],
    [{ count: 1, pattern: 'SPRING' }, 422, 'invalid_pattern', /has no placeholder/],
    [{ count: 1, pattern: '=####' }, 422, 'invalid_pattern', /begins with U\+003D '='/],
    [{ count: 1, pattern: '####', charset: '-ABC' }, 422, 'invalid_pattern', /begin the pattern with another character/],
    [{ count: 1, pattern: `${'C'.repeat(125)}####` }, 422, 'invalid_pattern', /129 characters/],
    [{ count: 0, pattern: '####' }, 400, 'invalid_count', /generate 1 to 1000000 codes/],
    [{ count: 1_000_001, pattern: '##########' }, 400, 'invalid_count', /generate 1 to 1000000 codes/],
    [{ count: '10', pattern: '####' }, 400, 'invalid_json', /invalid type/],
    [{ count: 10, pattern: '####', prefix: 'X' }, 400, 'invalid_json', /unknown field `prefix`/],
    [{ pattern: '####' }, 400, 'invalid_json', /missing field `count`/],
    ['{"count": 10,', 400, 'invalid_json', /invalid/],
  ];
  for (const [body, status, code, message] of cases) {
    const res = typeof body === 'string'
      ? await api.call('POST', '/pools/bad/generate', body, { 'content-type': 'application/json' })
      : await generate('bad', body);
    assert.deepEqual([res.status, res.json?.error?.code], [status, code], `${JSON.stringify(body)}: ${res.text}`);
    assert.match(res.json.error.message, message);
  }
  const empty = await api.call('POST', '/pools/bad/generate');
  assert.deepEqual([empty.status, empty.json.error.code], [400, 'missing_body']);
  const csv = await api.call('POST', '/pools/bad/generate', 'count,pattern\n1,####\n', { 'content-type': 'text/csv' });
  assert.deepEqual([csv.status, csv.json.error.code], [415, 'unsupported_media_type']);
  const query = await api.call('POST', '/pools/bad/generate?count=1', { count: 1, pattern: '####' });
  assert.deepEqual([query.status, query.json.error.code], [400, 'unknown_parameter']);
  assert.deepEqual(await snapshot(api), before);
});

test('an unknown pool is 404 and creates nothing', async () => {
  const res = await generate('ghost', { count: 10, pattern: 'G-####' });
  assert.deepEqual([res.status, res.json.error.code], [404, 'unknown_pool']);
  assert.equal((await api.getPool('ghost')).status, 404);
});

test('only the admin scope generates', async () => {
  await api.putPool('keys');
  const key = async (scope) => (await api.call('POST', '/keys', { name: `gen ${scope}`, scope })).json.key;
  const body = { count: 5, pattern: 'K-#####' };
  for (const [token, status, code] of [
    ['', 401, 'unauthorized'], ['wrong', 401, 'unauthorized'],
    [await key('read'), 403, 'forbidden'], [await key('tracking'), 403, 'forbidden'],
  ]) {
    const res = await generate('keys', body, client(worker.base, 'gen', token));
    assert.deepEqual([res.status, res.json.error.code], [status, code]);
  }
  assert.equal((await api.getPool('keys')).json.total, 0);
  const admin = await generate('keys', body, client(worker.base, 'gen', await key('admin')));
  assert.equal(admin.status, 200, admin.text);
  assert.equal(admin.json.imported, 5);
  assert.equal((await api.getPool('keys')).json.total, 5);
});
