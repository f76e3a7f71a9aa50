// Keeping strangers out of the public route: signed customer ids and a
// per-client rate limit.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startWorker, createProject } from './worker.mjs';

const workers = [];
after(async () => { await Promise.all(workers.map((w) => w.stop())); });
async function start(options) {
  const worker = await startWorker(options);
  workers.push(worker);
  return worker;
}

test('a layer that requires signed customer ids refuses unsigned and forged ones', async () => {
  const worker = await start();
  const api = await createProject(worker.base, 'signed');
  const key = crypto.randomBytes(32).toString('hex');
  await api.putPool('p');
  await api.importJson('p', ['S1', 'S2']);
  await api.putLayer('l', { template: '{{ vouchers["p"].assign_available_code() }}', assignment: 'per_customer', signed_customer: true });
  const settings = await api.call('PUT', '/settings', { customer_signing_key: key });
  assert.equal(settings.status, 200, settings.text);
  assert.deepEqual(settings.json, {
    redemption: null, customer_signing_key_set: true, webhook_url: null, webhook_secret_set: false,
  });

  const url = (customer, sig) => `${worker.base}/v1/projects/signed/layers/l/render?customer_id=${customer}` + (sig ? `&sig=${sig}` : '');
  const sign = (customer) => crypto.createHmac('sha256', key).update(customer).digest('hex');
  const ada = await fetch(url('ada', sign('ada')));
  assert.equal(ada.status, 200);
  assert.equal(await ada.text(), 'S1');
  for (const [who, sig] of [['ada', undefined], ['ada', sign('bob')], ['ada', 'deadbeef'], ['bob', sign('ada')]]) {
    const res = await fetch(url(who, sig));
    assert.equal(res.status, 403, `${who} ${sig}`);
    assert.equal((await res.json()).error.code, 'invalid_customer_signature');
  }
  assert.equal((await api.getPool('p')).json.assigned, 1);
  // The key is never shown again.
  assert.equal((await api.call('GET', '/settings')).text.includes(key), false);
});

test('the public route answers 429 past the per-client rate limit', async () => {
  const worker = await start({ ratelimits: { RENDER_RATE_LIMIT: { simple: { limit: 5, period: 60 } } } });
  const api = await createProject(worker.base, 'limited');
  await api.putPool('p');
  await api.putLayer('l', { template: 'hello' });
  const statuses = [];
  for (let i = 0; i < 8; i++) {
    const res = await fetch(`${worker.base}/v1/projects/limited/layers/l/render`, { headers: { 'cf-connecting-ip': '198.51.100.7' } });
    statuses.push(res.status);
    if (res.status === 429) {
      assert.equal((await res.json()).error.code, 'rate_limited');
      assert.equal(res.headers.get('retry-after'), '60');
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
    } else {
      await res.text();
    }
  }
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
  // Another client is not affected.
  const other = await fetch(`${worker.base}/v1/projects/limited/layers/l/render`, { headers: { 'cf-connecting-ip': '198.51.100.8' } });
  assert.equal(other.status, 200);
});

test('the public route answers a CORS preflight, and its answers carry CORS and no-store once', async () => {
  const worker = await start();
  const api = await createProject(worker.base, 'cors');
  await api.putPool('p');
  await api.importJson('p', ['C1']);
  await api.putLayer('l', { template: '{{ vouchers["p"].assign_available_code() }}' });
  const url = `${worker.base}/v1/projects/cors/layers/l/render?customer_id=ada`;

  const preflight = await fetch(url, { method: 'OPTIONS', headers: { origin: 'https://shop.example', 'access-control-request-method': 'GET' } });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
  assert.equal(preflight.headers.get('access-control-allow-methods'), 'GET, OPTIONS');
  assert.equal(preflight.headers.get('access-control-allow-headers'), 'content-type');
  assert.equal(preflight.headers.get('access-control-max-age'), '86400');
  assert.equal((await api.getPool('p')).json.assigned, 0, 'a preflight takes no code');

  // 200 with a code, then 204 (empty pool): both readable from any site, never cached.
  for (const status of [200, 204]) {
    const res = await fetch(url.replace('ada', `c${status}`));
    await res.text();
    assert.equal(res.status, status);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.equal(res.headers.get('cache-control'), 'no-store');
  }

  // An admin route has no preflight: it is not for other sites.
  const admin = await fetch(`${worker.base}/v1/projects/cors/pools`, { method: 'OPTIONS' });
  assert.equal(admin.status, 405);
  assert.equal(admin.headers.get('access-control-allow-origin'), null);
});
