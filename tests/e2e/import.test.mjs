// CSV import, counts, listing and export end to end under workerd.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startWorker, createProject, TOKEN } from './worker.mjs';

let worker;
before(async () => { worker = await startWorker(); });
after(async () => { await worker?.stop(); });

const counts = (report) => {
  const { total_rows, imported, duplicates_in_file, already_in_project, invalid } = report;
  assert.equal(total_rows, imported + duplicates_in_file + already_in_project + invalid, 'counts add up');
  return { total_rows, imported, duplicates_in_file, already_in_project, invalid };
};

/** The fields of one line of the export, where every field is quoted. */
const fields = (line) => line.slice(1, -1).split('","').map((f) => f.replaceAll('""', '"'));

/** Every code of a pool through the CSV export, as [code, state] rows. */
async function exported(api, pool, params) {
  const res = await api.exportCsv(pool, params);
  assert.equal(res.status, 200, res.text.slice(0, 300));
  const [header, ...rows] = res.text.trimEnd().split('\n');
  assert.equal(header, '"code","state","assigned_at","customer_id","source","redeemed_at","expires_at"');
  return rows.map((row) => fields(row).slice(0, 2));
}

const messy = [
  '\uFEFFNr; Code ;Wert',
  '1;  MESSY-1  ;5',
  '',
  '2;"MESSY;2";5',
  '3;MESSY-1;5',
  '4;"MESSY ""4""";5',
  '5;;5',
  '6;OLD-1;5',
  '7;MESSY-7',
  '8',
  `9;${'X'.repeat(130)};5`,
  '10;"TWO',
  'LINES";5',
  '   ;  ;  ',
  '11;MESSY-11;5;extra',
  '12;MESSY-7;5',
].join('\r\n');

test('a messy CSV file: every row is counted and the counts add up', async () => {
  const api = await createProject(worker.base, 'messy');
  await api.putPool('old');
  await api.importJson('old', ['OLD-1']);
  await api.putPool('spring');
  const res = await api.importCsv('spring', messy);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(counts(res.json), {
    total_rows: 12, imported: 4, duplicates_in_file: 2, already_in_project: 1, invalid: 5,
  });
  assert.equal(res.json.column, 'Code');
  assert.deepEqual(res.json.invalid_samples, [
    { line: 7, reason: 'code is empty' },
    { line: 10, reason: 'row has 1 field, the header has 3' },
    { line: 11, reason: 'code is 130 characters, at most 128 are allowed' },
    { line: 12, reason: 'code contains U+000D at position 4: a control or invisible character that shoppers cannot see or type' },
    { line: 15, reason: 'row has 4 fields, the header has 3' },
  ]);
  const pool = (await api.getPool('spring')).json;
  assert.deepEqual([pool.total, pool.available, pool.assigned, pool.redeemed], [4, 4, 0, 0]);
  // Stored sorted by code within the import, trimmed, quotes undone.
  const page = await api.listCodes('spring');
  assert.deepEqual(page.json.codes.map((c) => c.code), ['MESSY "4"', 'MESSY-1', 'MESSY-7', 'MESSY;2']);
});

test('importing the same file again imports nothing and changes nothing', async () => {
  const api = await createProject(worker.base, 'again');
  await api.putPool('p');
  const file = 'code\nA-1\nA-2\nA-1\nA-3\n\nnot valid\t!\n';
  const first = await api.importCsv('p', file);
  assert.deepEqual(counts(first.json), {
    total_rows: 5, imported: 3, duplicates_in_file: 1, already_in_project: 0, invalid: 1,
  });
  const before = await exported(api, 'p');
  const second = await api.importCsv('p', file);
  assert.deepEqual(counts(second.json), {
    total_rows: 5, imported: 0, duplicates_in_file: 0, already_in_project: 4, invalid: 1,
  });
  assert.deepEqual(await exported(api, 'p'), before);
  assert.equal((await api.getPool('p')).json.total, 3);
});

test('an import cut off after half the file is completed by importing the whole file', async () => {
  const api = await createProject(worker.base, 'halves');
  await api.putPool('p');
  const codes = Array.from({ length: 12_000 }, (_, i) => `HALF-${(i * 7919) % 12_000}`);
  const half = await api.importCsv('p', ['code', ...codes.slice(0, 6_000)].join('\n'));
  assert.equal(half.json.imported, 6_000);
  const whole = await api.importCsv('p', ['code', ...codes].join('\n'));
  assert.deepEqual(counts(whole.json), {
    total_rows: 12_000, imported: 6_000, duplicates_in_file: 0, already_in_project: 6_000, invalid: 0,
  });
  const pool = (await api.getPool('p')).json;
  assert.deepEqual([pool.total, pool.available], [12_000, 12_000]);
});

test('a client that goes away midway leaves whole batches, and a re-run completes the import', async () => {
  const api = await createProject(worker.base, 'abort');
  await api.putPool('p');
  // More than one window of codes, so some are stored before the cut.
  const codes = Array.from({ length: 150_000 }, (_, i) => `CUT-${String(i).padStart(8, '0')}`);
  const body = Buffer.from(['code', ...codes].join('\n') + '\n');
  // Inside row 130,000: had the end of the body been taken for the end of the
  // file, its cut code `CUT-001` would be stored.
  const cut = body.indexOf('CUT-00130000') + 7;
  for (const chunked of [false, true]) {
    await new Promise((resolve) => {
      const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/csv' };
      if (!chunked) headers['content-length'] = body.length;
      const req = http.request(`${worker.base}/v1/projects/abort/pools/p/import`, { method: 'POST', headers });
      req.on('response', (res) => res.resume());
      req.on('error', resolve);
      req.on('close', resolve);
      req.write(body.subarray(0, cut), () => setTimeout(() => req.destroy(), 200));
    });
  }
  const again = await api.importCsv('p', body);
  assert.equal(again.status, 200, again.text);
  const report = counts(again.json);
  assert.equal(report.imported + report.already_in_project, 150_000);
  assert.equal(report.duplicates_in_file, 0);
  const pool = (await api.getPool('p')).json;
  assert.deepEqual([pool.total, pool.available], [150_000, 150_000]);
  // Exactly the file's codes, none cut short, each once.
  const rows = await exported(api, 'p');
  assert.equal(rows.length, 150_000);
  assert.deepEqual(rows.map(([code]) => code).sort(), codes);
});

test('a file that is not CSV text is rejected whole, with a JSON error naming the problem', async () => {
  const api = await createProject(worker.base, 'rejects');
  await api.putPool('p');
  const latin1 = Buffer.concat([Buffer.from('code\nK'), Buffer.from([0xe4]), Buffer.from('SE-1\n')]);
  const utf16 = Buffer.from('\uFEFFcode\nA-1\n', 'utf16le');
  const zip = Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(64), Buffer.from('code\nA-1\n')]);
  const cases = [
    [zip, '', 'csv_binary', /not a CSV text file/],
    [latin1, '', 'csv_not_utf8', /not UTF-8 encoded \(line 2/],
    [utf16, '', 'csv_not_utf8', /CSV UTF-8/],
    ['', '', 'csv_empty', /empty/],
    ['\n\n  \n', '', 'csv_empty', /empty/],
    ['sku,value\n1,A-1\n', '', 'csv_no_code_column', /columns \(sku, value\)/],
    ['code\nA-1\n', '?column=voucher', 'csv_no_such_column', /no column named `voucher`/],
  ];
  for (const [file, query, code, message] of cases) {
    const res = await api.importCsv('p', file, query);
    assert.equal(res.status, 400, `${code}: ${res.text}`);
    assert.equal(res.json.error.code, code);
    assert.match(res.json.error.message, message);
  }
  // (application/vnd.ms-excel is CSV as Windows browsers label it: accepted.)
  const other = await api.call('POST', '/pools/p/import', 'code\nA-1\n', { 'content-type': 'application/pdf' });
  assert.equal(other.status, 415);
  assert.match(other.json.error.message, /text\/csv/);
  assert.equal((await api.getPool('p')).json.total, 0, 'nothing imported');
  const unknown = await api.importCsv('nope', 'code\nA-1\n');
  assert.equal(unknown.status, 404);
  assert.equal(unknown.json.error.code, 'unknown_pool');
});

test('the code column: the only one, the one named code, or ?column=', async () => {
  const api = await createProject(worker.base, 'columns');
  await api.putPool('p');
  const cases = [
    ['Gutschein\nONLY-1\n', '', 'Gutschein', 'ONLY-1'],
    ['sku\tCODE\tvalue\n1\tTAB-1\t5\n', '', 'CODE', 'TAB-1'],
    ['code,voucher\nNOT-1,PICKED-1\n', '?column=Voucher', 'voucher', 'PICKED-1'],
  ];
  for (const [file, query, column, code] of cases) {
    const res = await api.importCsv('p', file, query);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.column, column);
    assert.equal(res.json.imported, 1);
  }
  assert.deepEqual((await exported(api, 'p')).map(([c]) => c), ['ONLY-1', 'TAB-1', 'PICKED-1']);
});

test('a body over 64 MiB is refused with 413, declared or counted', async () => {
  const api = await createProject(worker.base, 'large');
  await api.putPool('p');
  const post = (headers, send) => new Promise((resolve, reject) => {
    const req = http.request(`${worker.base}/v1/projects/large/pools/p/import`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/csv', ...headers },
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => { req.destroy(); resolve({ status: res.statusCode, json: JSON.parse(text) }); });
    });
    req.on('error', reject);
    send(req);
  });
  // Declared: refused before the body is read.
  const declared = await post({ 'content-length': String(64 * 1024 * 1024 + 1) }, (req) => req.write('code\n'));
  assert.equal(declared.status, 413);
  assert.equal(declared.json.error.code, 'body_too_large');
  assert.match(declared.json.error.message, /larger than 64 MiB/);
  // Not declared (chunked): refused once more than 64 MiB arrived.
  const blank = Buffer.alloc(1024 * 1024, '\n');
  const counted = await post({}, async (req) => {
    req.write('code\nBIG-1\n');
    for (let i = 0; i <= 64; i++) {
      if (!req.write(blank)) await new Promise((r) => req.once('drain', r));
    }
    req.end();
  });
  assert.equal(counted.status, 413);
  assert.equal(counted.json.error.code, 'body_too_large');
  assert.equal((await api.getPool('p')).json.total, 0);
});

test('pools show their counts; codes are listed by page and state, and exported as CSV', async () => {
  const api = await createProject(worker.base, 'listing');
  await api.putPool('p');
  await api.putPool('q');
  await api.importCsv('p', 'code\nL-1\nL-2\nL-3\nL-4\nL-5\n');
  await api.putLayer('l', { template: '{{ vouchers["p"].assign_available_code() }}' });
  assert.equal((await api.render('l', 'ada,"x"')).text, 'L-1');
  assert.equal((await api.render('l', 'bob')).text, 'L-2');

  const pools = (await api.listPools()).json.pools;
  assert.deepEqual(
    pools.map(({ name, total, available, assigned, redeemed }) => [name, total, available, assigned, redeemed]),
    [['p', 5, 3, 2, 0], ['q', 0, 0, 0, 0]],
  );

  // Pages of 2 with a cursor, then the end.
  const seen = [];
  let cursor;
  do {
    const page = await api.listCodes('p', cursor ? { limit: 2, cursor } : { limit: 2 });
    assert.equal(page.status, 200, page.text);
    assert.ok(page.json.codes.length <= 2);
    seen.push(...page.json.codes);
    cursor = page.json.next_cursor;
  } while (cursor);
  assert.deepEqual(seen.map((c) => [c.code, c.state]), [
    ['L-1', 'assigned'], ['L-2', 'assigned'], ['L-3', 'available'], ['L-4', 'available'], ['L-5', 'available'],
  ]);
  const first = seen[0];
  assert.equal(first.customer_id, 'ada,"x"');
  assert.equal(first.source, 'layer:l');
  assert.match(first.assigned_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(first.redeemed_at, null);
  assert.deepEqual(seen[2], {
    code: 'L-3', state: 'available', assigned_at: null, customer_id: null, source: null, redeemed_at: null,
  });

  const available = await api.listCodes('p', { state: 'available' });
  assert.deepEqual(available.json.codes.map((c) => c.code), ['L-3', 'L-4', 'L-5']);
  assert.equal(available.json.next_cursor, null);

  // The export: the same codes, every field quoted, a download name.
  const csv = await api.exportCsv('p');
  assert.match(csv.headers.get('content-type'), /^text\/csv/);
  assert.match(csv.headers.get('content-disposition'), /filename="p-codes.csv"/);
  const lines = csv.text.trimEnd().split('\n');
  assert.equal(lines.length, 6);
  assert.match(lines[1], /^"L-1","assigned","\d{4}-[^"]+","ada,""x""","layer:l","",""$/);
  assert.equal(lines[3], '"L-3","available","","","","",""');
  assert.deepEqual(await exported(api, 'p', { state: 'assigned' }), [['L-1', 'assigned'], ['L-2', 'assigned']]);

  for (const [params, code] of [
    [{ state: 'used' }, 'invalid_state'], [{ limit: '0' }, 'invalid_limit'],
    [{ limit: '1001' }, 'invalid_limit'], [{ cursor: 'x' }, 'invalid_cursor'],
  ]) {
    const res = await api.listCodes('p', params);
    assert.equal(res.status, 400);
    assert.equal(res.json.error.code, code);
  }
  for (const res of [await api.listCodes('nope'), await api.exportCsv('nope')]) {
    assert.equal(res.status, 404);
    assert.equal(res.json.error.code, 'unknown_pool');
  }
});
