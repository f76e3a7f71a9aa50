// Alerts end to end (issue 16, part 3): webhooks received by a local HTTP
// server, their signatures checked with the project's secret; a low-stock
// crossing by renders delivers exactly one; a server answering 500 then
// 200, or hanging past the timeout, gets retries; a restart of the Worker
// with a retry pending still delivers it (the outbox and the alarm are
// persisted). The Worker runs with short retries and timeouts
// (ALERT_RETRY_BASE_MS, WEBHOOK_TIMEOUT_MS). No timing is asserted: each
// test waits for what it expects, up to a deadline.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startWorker, createProject, TOKEN, TRACKING_TOKEN } from './worker.mjs';

const SECRET = 'e2e-webhook-secret-0123456789abcdef0123';
const VARS = { ALERT_RETRY_BASE_MS: '200', WEBHOOK_TIMEOUT_MS: '1000' };
const bindings = (vars) => ({ ADMIN_TOKEN: TOKEN, TRACKING_TOKEN, ...vars });

/**
 * A local webhook receiver: keeps every request, and answers what
 * `answer(request, n)` says (n from 1): a status, or 'hang' (never answers).
 */
async function receiver() {
  const received = [];
  const hanging = new Set();
  let answer = () => 200;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const request = { path: req.url, headers: req.headers, body, json: JSON.parse(body) };
      received.push(request);
      const reply = answer(request, received.length);
      if (reply === 'hang') {
        hanging.add(res);
        return;
      }
      res.writeHead(reply, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    received,
    url: `http://127.0.0.1:${server.address().port}/hooks/codepool`,
    set answer(fn) { answer = fn; },
    close: () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections?.();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Whether a request carries the signature codepool makes (README, Alerts). */
function signed(request, secret = SECRET) {
  const timestamp = request.headers['x-codepool-timestamp'];
  if (!/^\d+$/.test(timestamp ?? '')) return false;
  const expected = 'sha256=' + crypto.createHmac('sha256', secret).update(`${timestamp}.${request.body}`).digest('hex');
  const got = Buffer.from(request.headers['x-codepool-signature'] ?? '');
  return got.length === expected.length && crypto.timingSafeEqual(got, Buffer.from(expected));
}

/** Waits until `check()` answers a truthy value, up to `ms`; answers it. */
async function until(what, check, ms = 20_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The project's `alert` log entries, oldest first. */
async function alertLog(api) {
  const res = await api.call('GET', '/events?type=alert&limit=1000');
  assert.equal(res.status, 200, res.text);
  return res.json.events.reverse();
}

/** A project whose webhook is the receiver, with a pool of `n` codes and its alerts. */
async function project(base, name, hook, { codes = 10, alerts }) {
  const api = await createProject(base, name);
  let res = await api.call('PUT', '/settings', { webhook_url: hook.url, webhook_secret: SECRET });
  assert.equal(res.status, 200, res.text);
  res = await api.putPool('p', { alerts });
  assert.equal(res.status, 200, res.text);
  res = await api.importJson('p', Array.from({ length: codes }, (_, i) => `${name.toUpperCase()}-${i}`));
  assert.equal(res.status, 200, res.text);
  res = await api.putLayer('l', { template: "{{ vouchers['p'].assign_available_code() }}" });
  assert.equal(res.status, 200, res.text);
  return api;
}

let worker;
let hook;

before(async () => {
  hook = await receiver();
  worker = await startWorker({ bindings: bindings(VARS) });
});

after(async () => {
  await worker?.stop();
  await hook?.close();
});

test('a low-stock crossing by renders delivers exactly one signed webhook', async () => {
  const api = await project(worker.base, 'alerts-low', hook, { codes: 10, alerts: { low_stock: 3 } });
  const settings = await api.call('GET', '/settings');
  assert.equal(settings.json.webhook_secret_set, true);
  assert.equal(settings.json.webhook_url, hook.url);
  assert.ok(!settings.text.includes(SECRET), 'the secret is never read back');

  const before = hook.received.length;
  for (let i = 0; i < 10; i += 1) {
    const res = await api.render('l', `c${i}`);
    assert.equal(res.status, 200);
  }
  await until('the delivery logged', async () =>
    (await alertLog(api)).some((e) => e.status === 'delivered'));
  const mine = hook.received.slice(before).filter((r) => r.json.project === 'alerts-low');
  assert.equal(mine.length, 1, 'one webhook for one crossing');
  const [webhook] = mine;
  assert.ok(signed(webhook), 'signed with the secret');
  assert.ok(!signed(webhook, 'another-secret-0123456789abcdef0123456'), 'not with another');
  assert.equal(webhook.path, '/hooks/codepool');
  assert.equal(webhook.headers['content-type'], 'application/json');
  assert.equal(webhook.headers['x-codepool-alert-id'], webhook.json.id);
  assert.equal(webhook.headers['x-codepool-attempt'], '1');
  assert.equal(webhook.json.alert, 'low_stock');
  assert.equal(webhook.json.pool, 'p');
  assert.equal(webhook.json.threshold, 3);
  assert.equal(webhook.json.counts.unassigned, 3);
  assert.equal(webhook.json.counts.total, 10);

  const log = await alertLog(api);
  assert.deepEqual(log.map((e) => e.status), ['low_stock', 'delivered']);
  assert.equal(log[0].properties.id, webhook.json.id);
  const pool = (await api.getPool('p')).json;
  assert.deepEqual(pool.alerts, { low_stock: 3 });
  assert.equal(pool.alert_state.low_stock.state, 'fired');
  assert.equal(pool.alert_state.low_stock.delivery.status, 'delivered');
  const list = (await api.listPools()).json.pools;
  assert.equal(list[0].alert_state.low_stock.state, 'fired');
});

test('a webhook answering 500 then 200 gets retries until delivered', async () => {
  const name = 'alerts-retry';
  let mineSeen = 0;
  hook.answer = (request) => {
    if (request.json.project !== name) return 200;
    mineSeen += 1;
    return mineSeen <= 2 ? 500 : 200;
  };
  const api = await project(worker.base, name, hook, { codes: 2, alerts: { out_of_codes: true } });
  for (let i = 0; i < 2; i += 1) assert.equal((await api.render('l', `c${i}`)).status, 200);
  await until('the delivery logged', async () =>
    (await alertLog(api)).some((e) => e.status === 'delivered'));
  const mine = hook.received.filter((r) => r.json.project === name);
  assert.equal(mine.length, 3, 'two failures, then the delivery');
  assert.deepEqual(mine.map((r) => r.headers['x-codepool-attempt']), ['1', '2', '3']);
  assert.equal(new Set(mine.map((r) => r.json.id)).size, 1, 'the same alert each time');
  assert.ok(mine.every((r) => signed(r)));
  const log = await alertLog(api);
  assert.deepEqual(log.map((e) => e.status), ['out_of_codes', 'retrying', 'retrying', 'delivered']);
  assert.equal(log[1].properties.http_status, 500);
  assert.equal(log[3].properties.attempts, 3);
  const state = (await api.getPool('p')).json.alert_state.out_of_codes;
  assert.equal(state.delivery.status, 'delivered');
  assert.equal(state.delivery.attempts, 3);
  hook.answer = () => 200;
});

test('a webhook that hangs past the timeout is retried', async () => {
  const name = 'alerts-hang';
  let mineSeen = 0;
  hook.answer = (request) => {
    if (request.json.project !== name) return 200;
    mineSeen += 1;
    return mineSeen === 1 ? 'hang' : 204;
  };
  const api = await project(worker.base, name, hook, { codes: 1, alerts: { out_of_codes: true } });
  assert.equal((await api.render('l', 'c0')).status, 200);
  await until('the delivery logged', async () =>
    (await alertLog(api)).some((e) => e.status === 'delivered'));
  const mine = hook.received.filter((r) => r.json.project === name);
  assert.equal(mine.length, 2);
  const log = await alertLog(api);
  assert.deepEqual(log.map((e) => e.status), ['out_of_codes', 'retrying', 'delivered']);
  assert.match(log[1].properties.error, /no answer within 1000 ms/);
  assert.equal(log[1].properties.http_status, null);
  hook.answer = () => 200;
});

test('without a webhook, alerts are logged and their delivery skipped', async () => {
  const api = await createProject(worker.base, 'alerts-none');
  assert.equal((await api.putPool('p', { alerts: { out_of_codes: true } })).status, 200);
  assert.equal((await api.importJson('p', ['NONE-1'])).status, 200);
  assert.equal((await api.putLayer('l', { template: "{{ vouchers['p'].assign_available_code() }}" })).status, 200);
  assert.equal((await api.render('l', 'c0')).status, 200);
  const log = await alertLog(api);
  assert.deepEqual(log.map((e) => e.status), ['out_of_codes', 'skipped']);
  assert.match(log[1].properties.error, /no webhook_url/);
});

test('bad alert and webhook settings are refused with JSON errors', async () => {
  const api = await createProject(worker.base, 'alerts-bad');
  let res = await api.putPool('p', { alerts: { low_stock: '150%' } });
  assert.equal(res.status, 422);
  assert.equal(res.json.error.code, 'invalid_alerts');
  res = await api.putPool('p', { alerts: { near_expiry: 'soon' } });
  assert.equal(res.status, 422);
  res = await api.putPool('p', { alerts: { low: 1 } });
  assert.equal(res.status, 400);
  assert.equal(res.json.error.code, 'invalid_json');
  res = await api.call('PUT', '/settings', { webhook_url: 'ftp://example.com', webhook_secret: SECRET });
  assert.equal(res.status, 400);
  assert.equal(res.json.error.code, 'invalid_settings');
  res = await api.call('PUT', '/settings', { webhook_url: 'https://example.com/hook' });
  assert.equal(res.status, 400, 'a URL needs a secret');
  res = await api.call('PUT', '/settings', { webhook_url: 'https://example.com/hook', webhook_secret: 'short' });
  assert.equal(res.status, 400);
});

test('a restart with a retry pending still delivers it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'codepool-alerts-'));
  const name = 'alerts-restart';
  // Long enough a wait that the first Worker is gone before the retry.
  const slow = { ...VARS, ALERT_RETRY_BASE_MS: '3000' };
  let first = await startWorker({ persistTo: dir, bindings: bindings(slow) });
  let second;
  try {
    hook.answer = (request) => (request.json.project === name ? 500 : 200);
    const api = await project(first.base, name, hook, { codes: 1, alerts: { out_of_codes: true } });
    assert.equal((await api.render('l', 'c0')).status, 200);
    await until('the first attempt failed', async () =>
      (await alertLog(api)).some((e) => e.status === 'retrying'));
    await first.stop();
    first = null;
    const before = hook.received.filter((r) => r.json.project === name).length;
    assert.equal(before, 1);

    // The receiver is fixed; a new Worker on the same storage gets no
    // request: its alarm alone delivers.
    hook.answer = () => 200;
    second = await startWorker({ persistTo: dir, bindings: bindings(slow) });
    const retried = await until('the retry after the restart', () =>
      hook.received.filter((r) => r.json.project === name).length > before);
    assert.ok(retried);
    const mine = hook.received.filter((r) => r.json.project === name);
    assert.equal(mine.at(-1).headers['x-codepool-attempt'], '2');
    assert.equal(mine.at(-1).json.id, mine[0].json.id);
    assert.ok(signed(mine.at(-1)));
    const again = (await import('./worker.mjs')).client(second.base, name);
    await until('the delivery logged', async () =>
      (await alertLog(again)).some((e) => e.status === 'delivered'));
  } finally {
    await first?.stop();
    await second?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
