// A pool's lifecycle under workerd (real Durable Object SQLite): codes
// imported with their own expiry, a pool's window and margin, and many
// clients racing codes that expire while they render, through the store and
// through dispensers, while an admin voids codes: no expired or void code is
// ever handed out, and the counts and the listing agree.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, createProject, TOKEN } from './worker.mjs';
import { checkPool } from './state.mjs';
import { codeNames } from './load.mjs';

let worker;
before(async () => { worker = await startWorker(); });
after(async () => { await worker?.stop(); });

const DAY = 86_400_000;
const iso = (ms) => new Date(ms).toISOString();

test('codes imported with their own expiry: the expired ones and those within the margin are never handed out', async () => {
  const api = await createProject(worker.base, 'expiry');
  const now = Date.now();
  assert.equal((await api.putPool('p', { stop_assigning_before_expiry: '7d' })).status, 200);
  const csv = [
    'code;expires_at',
    `GONE-1;${iso(now - 1000)}`,
    `SOON-1;${iso(now + 3 * DAY)}`,
    `LATE-1;${iso(now + 30 * DAY)}`,
    'KEEP-1;',
    'BAD-1;31.12.2026',
  ].join('\n');
  const res = await api.importCsv('p', csv);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual([res.json.imported, res.json.invalid], [4, 1]);
  assert.match(res.json.invalid_samples[0].reason, /expires_at "31.12.2026" is not a time/);

  const pool = (await api.getPool('p')).json;
  assert.deepEqual(
    [pool.status, pool.total, pool.available, pool.expired, pool.stop_assigning_before_expiry],
    ['active', 4, 2, 2, '7d'],
  );
  const codes = await checkPool(api, 'p');
  assert.equal(codes.get('GONE-1').state, 'expired');
  assert.equal(codes.get('SOON-1').state, 'expired');
  assert.equal(codes.get('LATE-1').expires_at, iso(Date.parse(codes.get('LATE-1').expires_at)));
  assert.equal(codes.get('KEEP-1').expires_at, undefined);

  await api.putLayer('l', { template: '{{ vouchers["p"].assign_available_code() }}' });
  const shown = [];
  for (let i = 0; i < 4; i++) {
    const r = await api.render('l', `c${i}`);
    if (r.status === 200) shown.push(r.text);
    else assert.equal(r.status, 204);
  }
  assert.deepEqual(shown.sort(), ['KEEP-1', 'LATE-1']);

  // A shorter margin gives SOON back; JSON entries carry their expiry too.
  assert.equal((await api.putPool('p', { stop_assigning_before_expiry: '1d' })).status, 200);
  const json = await api.importJson('p', [{ code: 'JSON-1', expires_at: iso(now + 10 * DAY) }, { code: 'JSON-2', expires_at: 'soon' }]);
  assert.deepEqual([json.status, json.json.imported, json.json.invalid], [200, 1, 1]);
  const after = (await api.getPool('p')).json;
  assert.deepEqual([after.available, after.expired, after.assigned], [2, 1, 2]);
  await checkPool(api, 'p');
});

test("a pool's window: scheduled, active, expired, moved; bad settings are refused and change nothing", async () => {
  const api = await createProject(worker.base, 'window');
  const now = Date.now();
  const put = await api.putPool('p', { valid_from: iso(now + DAY), expires_at: iso(now + 10 * DAY) });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.json.status, 'scheduled');
  assert.equal((await api.importJson('p', ['W-1', 'W-2'])).status, 200);
  await api.putLayer('l', {
    template: '{% if vouchers["p"].count_available_codes() > 0 %}{{ vouchers["p"].assign_available_code() }}{% else %}none yet{% endif %}',
  });
  const early = await api.render('l', 'a');
  assert.deepEqual([early.status, early.text], [200, 'none yet']);

  // Past its expiry: what it had left lists as expired.
  assert.equal((await api.putPool('p', { expires_at: iso(now - 1000) })).json.status, 'expired');
  const codes = await checkPool(api, 'p');
  assert.deepEqual([...codes.values()].map((c) => c.state), ['expired', 'expired']);
  assert.equal((await api.render('l', 'a')).text, 'none yet');

  // Open again: the same codes hand out.
  assert.equal((await api.putPool('p', { expires_at: iso(now + DAY) })).json.status, 'active');
  assert.equal((await api.render('l', 'a')).text, 'W-1');

  for (const body of [
    { expires_at: 'tomorrow' },
    { stop_assigning_before_expiry: '1 week' },
    { valid_from: iso(now + DAY), expires_at: iso(now) },
    { expire_at: iso(now) },
  ]) {
    const bad = await api.putPool('p', body);
    assert.equal(bad.status, 400, JSON.stringify(body));
    assert.match(bad.json.error.code, /^invalid_(pool_settings|json)$/);
  }
  const pool = (await api.getPool('p')).json;
  assert.deepEqual([pool.status, pool.expires_at], ['active', iso(now + DAY)]);
});

test('64 clients race codes that expire, and an admin voiding codes, through the store and through dispensers', async (t) => {
  const api = await createProject(worker.base, 'expiryrace');
  const start = Date.now();
  // Short-lived codes sort first (by key), so they go out first and the
  // last of them expire mid-run; the others never expire.
  const short = codeNames('A', 3000);
  const long = codeNames('B', 600);
  assert.equal((await api.putPool('p')).status, 200);
  const expiresAt = start + 1500;
  const csv = ['code,expires_at', ...short.map((c) => `${c},${iso(expiresAt)}`), ...long.map((c) => `${c},`)].join('\n');
  const imported = await api.importCsv('p', csv);
  assert.equal(imported.json.imported, short.length + long.length);
  await api.putLayer('store', { template: '{{ vouchers["p"].assign_available_code() }}' });
  await api.putLayer('spread', { template: '{{ vouchers["p"].assign_available_code() }}', dispensers: 2 });

  const received = [];
  const loop = async (n) => {
    const layer = n % 4 === 0 ? 'spread' : 'store';
    for (let i = 0, empty = 0; i < 2000 && empty < 3; i++) {
      const sent = Date.now();
      const res = await fetch(`${worker.base}/v1/projects/expiryrace/layers/${layer}/render?customer_id=c${n}-${i}`);
      const text = await res.text();
      if (res.status === 200) received.push({ code: text, sent, layer, customer: `c${n}-${i}` });
      else if (res.status === 204) empty++;
      else assert.fail(`${res.status} ${text}`);
    }
  };
  // An admin voids codes while the clients render (leaked ones, say),
  // long-lived ones, which both layers hand out.
  const voided = new Map();
  let rendering = true;
  const voider = async () => {
    for (let i = 0; rendering && i < 300; i++) {
      const code = long[(i * 7) % long.length];
      if (voided.has(code)) continue;
      const res = await fetch(`${worker.base}/v1/projects/expiryrace/pools/p/codes/${code}/void`, {
        method: 'POST', headers: { authorization: `Bearer ${TOKEN}` },
      });
      const body = await res.text();
      if (res.status === 200) voided.set(code, JSON.parse(body));
      else assert.equal(res.status, 409, body); // held_by_dispenser: a dispenser did not answer the recall
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  const voiding = voider();
  await Promise.all(Array.from({ length: 64 }, (_, n) => loop(n)));
  rendering = false;
  await voiding;

  const codes = new Set(received.map((r) => r.code));
  assert.equal(codes.size, received.length, 'no code handed out twice');
  for (const r of received) {
    if (r.code.startsWith('A-')) {
      // Handed out after it was sent, so before its expiry.
      assert.ok(r.sent < expiresAt, `${r.code} went out to a request sent after it expired`);
    }
  }
  // Dispensers lease no code that expires before their lease ends.
  assert.ok(received.filter((r) => r.layer === 'spread').every((r) => r.code.startsWith('B-')));
  // Dispensers report what they handed out within about a second.
  await new Promise((resolve) => setTimeout(resolve, 2500));
  const listed = await checkPool(api, 'p');
  const pool = (await api.getPool('p')).json;
  const shortOut = received.filter((r) => r.code.startsWith('A-')).length;
  assert.equal(pool.expired, short.length - shortOut, 'every short-lived code is handed out once or expired');
  const byCode = new Map(received.map((r) => [r.code, r]));
  for (const r of received) {
    const c = listed.get(r.code);
    if (c.state === 'assigned' || c.state === 'void') assert.equal(c.customer_id, r.customer, r.code);
    else assert.equal(c.state, 'leased', `${r.code} went out: handed out by a dispenser, not yet reported`);
  }
  // A void code went out only before it was voided: then it keeps its holder.
  assert.ok(voided.size > 0, 'the admin voided codes');
  for (const [code, answer] of voided) {
    assert.equal(answer.state, 'void');
    const c = listed.get(code);
    assert.equal(c.state, 'void', code);
    if (c.customer_id === null) assert.equal(byCode.get(code), undefined, `${code} was voided unused, yet went out`);
    else assert.equal(byCode.get(code)?.customer, c.customer_id, `${code} was voided as handed to ${c.customer_id}`);
  }
  assert.equal(pool.void, voided.size);
  t.diagnostic(`${received.length} codes handed out, ${shortOut} of them short-lived; ${pool.expired} expired unhanded; ${voided.size} voided`);
});
