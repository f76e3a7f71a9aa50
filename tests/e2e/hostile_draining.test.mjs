// Draining a pool, and breaking reads with deep JSON: the reproductions of
// the findings, each a request that must be refused with its documented
// error, take no code and change nothing; signed ids with an expiry; layers
// that can be deleted; the rate limit counting an IPv6 client by its /64.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startWorker, createProject } from './worker.mjs';
import { allCodes, snapshot } from './state.mjs';

const PROJECT = 'drain';
const KEY = crypto.randomBytes(32).toString('hex');
const TAKE = '{{ vouchers["p"].assign_available_code() }}';
let worker;
let api;

before(async () => {
  worker = await startWorker();
  api = await createProject(worker.base, PROJECT);
  const ok = (res) => assert.equal(res.status, 200, res.text.slice(0, 300));
  ok(await api.putPool('p'));
  ok(await api.importJson('p', Array.from({ length: 20 }, (_, i) => `D-${String(i).padStart(2, '0')}`)));
  ok(await api.call('PUT', '/settings', { customer_signing_key: KEY }));
  ok(await api.putLayer('mine', { template: TAKE, assignment: 'per_customer' }));
  ok(await api.putLayer('signed', { template: TAKE, signed_customer: true }));
  ok(await api.putLayer('strict', { template: TAKE, signed_customer: true, require_expiry: true }));
});
after(async () => { await worker?.stop(); });

/** The public render of a layer with these query parameters. */
async function display(layer, params = {}, headers = {}) {
  const query = new URLSearchParams(params);
  const res = await fetch(`${worker.base}/v1/projects/${PROJECT}/layers/${layer}/render?${query}`, { headers });
  const text = await res.text();
  let error;
  try { error = JSON.parse(text).error; } catch { error = undefined; }
  return { status: res.status, text, error };
}

const now = () => Math.floor(Date.now() / 1000);
const sign = (message) => crypto.createHmac('sha256', KEY).update(message).digest('hex');
/** `customer_id`, `exp` and `sig` as the site's back end computes them. */
const signed = (id, exp) => ({ customer_id: id, exp: String(exp), sig: sign(`${id}.${exp}`) });
const nested = (n) => Array.from({ length: n }).reduce((inner) => [inner], 1);

/** Runs `fn` and checks the project's whole state is the same after it. */
async function changesNothing(fn) {
  const before = await snapshot(api);
  await fn();
  assert.deepEqual(await snapshot(api), before);
}

test('finding 5: a per_customer layer without customer_id answers 400 and takes nothing', async () => {
  await changesNothing(async () => {
    for (const params of [{}, { customer_id: '' }, { utm: 'mail' }]) {
      for (let i = 0; i < 3; i++) {
        const res = await display('mine', params);
        assert.equal(res.status, 400, res.text);
        assert.equal(res.error.code, 'missing_customer_id');
        assert.match(res.error.message, /customer_id/);
      }
    }
  });
  // With an id: one code, the same one on every display.
  const first = await display('mine', { customer_id: 'ada' });
  assert.equal(first.status, 200, first.text);
  for (let i = 0; i < 3; i++) assert.equal((await display('mine', { customer_id: 'ada' })).text, first.text);
});

test('finding 5: a signed id with an expiry works until then, and never after', async () => {
  const fresh = signed('ada', now() + 600);
  for (const layer of ['signed', 'strict']) {
    const res = await display(layer, fresh);
    assert.equal(res.status, 200, `${layer}: ${res.text}`);
  }
  // A genuine pair whose exp has passed: refused, nothing taken, however often.
  const stale = signed('ada', now() - 60);
  await changesNothing(async () => {
    for (const layer of ['signed', 'strict']) {
      for (let i = 0; i < 3; i++) {
        const res = await display(layer, stale);
        assert.equal(res.status, 403, res.text);
        assert.equal(res.error.code, 'customer_signature_expired');
      }
    }
  });
});

test('finding 5: forged, far-off or id-only signatures where they are not accepted take nothing', async () => {
  const exp = now() + 600;
  const legacy = { customer_id: 'ada', sig: sign('ada') };
  const cases = [
    ['another exp than signed', 'signed', { ...signed('ada', exp), exp: String(exp + 1) }],
    ['another id than signed', 'signed', { ...signed('ada', exp), customer_id: 'bob' }],
    ['a forged sig', 'signed', { ...signed('ada', exp), sig: 'ab'.repeat(32) }],
    ['no sig', 'signed', { customer_id: 'ada', exp: String(exp) }],
    ['exp 8 days ahead', 'signed', signed('ada', now() + 8 * 86400)],
    ['exp not Unix seconds', 'signed', { ...signed('ada', exp), exp: 'tomorrow' }],
    ['exp with a leading zero', 'signed', { ...signed('ada', exp), exp: `0${exp}` }],
    ['an id-only signature where exp is required', 'strict', legacy],
    // An expiring pair replayed as a signature of the id "ada.{exp}" alone.
    ['an expiring pair replayed without exp', 'signed', { customer_id: `ada.${exp}`, sig: signed('ada', exp).sig }],
  ];
  await changesNothing(async () => {
    for (const [name, layer, params] of cases) {
      const res = await display(layer, params);
      assert.equal(res.status, 403, `${name}: ${res.text}`);
      assert.equal(res.error.code, 'invalid_customer_signature', name);
    }
  });
  // Sites that sign the id alone keep working where exp is not required.
  assert.equal((await display('signed', legacy)).status, 200);
  // exp is the signature's, not a parameter of the template.
  assert.equal((await api.putLayer('echo', { template: '{{ params | length }}', signed_customer: true })).status, 200);
  const echo = await display('echo', signed('ada', exp));
  assert.deepEqual([echo.status, echo.text], [200, '0']);
});

test('finding 7: variables 125 and 126 levels deep are refused with a clear 400, and GET /layers stays fine', async () => {
  await changesNothing(async () => {
    // `{"v": [[...1...]]}`: the variables object is the first level. The
    // body is measured before it is read (at most 32 levels), then the
    // variables (at most 16): both answers are json_too_deep.
    for (const [depth, said] of [[125, /body nests more than 32 levels/], [126, /body nests more than 32 levels/],
      [17, /variables nest more than 16 levels/]]) {
      for (const layer of ['deep', 'mine']) {
        const res = await api.putLayer(layer, { template: 'x', variables: { v: nested(depth - 1) } });
        assert.equal(res.status, 400, `${depth}: ${res.text}`);
        assert.equal(res.json.error.code, 'json_too_deep', res.text);
        assert.match(res.json.error.message, said);
        const list = await api.call('GET', '/layers');
        assert.equal(list.status, 200, list.text);
      }
    }
    const big = await api.putLayer('deep', { template: 'x', variables: { copy: 'x'.repeat(70_000) } });
    assert.equal(big.status, 422, big.text);
    assert.equal(big.json.error.code, 'variables_too_large');
  });
  // 16 levels are accepted, and every route reads them back.
  const variables = { v: nested(15) };
  assert.equal((await api.putLayer('deepest', { template: '{{ v | length }}', variables })).status, 200);
  assert.deepEqual((await api.call('GET', '/layers/deepest')).json.variables, variables);
  assert.equal((await api.call('GET', '/layers')).status, 200);
  assert.deepEqual(await display('deepest'), { status: 200, text: '1', error: undefined });
});

test('finding 7: deep free JSON in other bodies is refused before it reaches the store', async () => {
  const deep = { v: nested(124) };
  const cases = [
    ['render context', 'POST', '/render', { template: TAKE, context: deep, customer_id: 'x' }],
    ['campaign attributes', 'POST', '/campaigns/c/send', { template: TAKE, customers: [{ id: 'x', attributes: deep }] }],
    // These went to the store, which could not read them (400 invalid_command).
    ['event properties', 'POST', '/events', { customer_id: 'x', type: 'purchase', properties: deep }],
    ['event properties, 17 levels', 'POST', '/events', { customer_id: 'x', type: 'purchase', properties: { v: nested(16) } }],
    ['campaign attributes, 17 levels', 'POST', '/campaigns/c/send', { template: TAKE, customers: [{ id: 'x', attributes: { v: nested(16) } }] }],
    ['render context, 17 levels', 'POST', '/render', { template: TAKE, context: { v: nested(16) }, customer_id: 'x' }],
    ['a pool body far too deep', 'PUT', '/pools/q', { description: 'x', extra: nested(200) }],
  ];
  await changesNothing(async () => {
    for (const [name, method, route, body] of cases) {
      const res = await api.call(method, route, body);
      assert.equal(res.status, 400, `${name}: ${res.text}`);
      assert.equal(res.json.error.code, 'json_too_deep', name);
    }
    // A timestamp that is no scalar went to the store too: now invalid_event.
    const res = await api.call('POST', '/events', { customer_id: 'x', type: 'purchase', timestamp: nested(20) });
    assert.deepEqual([res.status, res.json.error.code], [400, 'invalid_event']);
  });
});

test('DELETE /layers/{layer} answers the layer; its displays answer 404 after; its codes stay assigned', async () => {
  const layer = await api.putLayer('gone', { template: `OLD ${TAKE}` });
  assert.equal(layer.status, 200);
  // Displayed once, so this isolate holds it compiled.
  const shown = await display('gone', { customer_id: 'cy' });
  assert.equal(shown.status, 200);
  const code = shown.text.replace('OLD ', '');

  const deleted = await api.call('DELETE', '/layers/gone');
  assert.equal(deleted.status, 200, deleted.text);
  assert.deepEqual(deleted.json, layer.json);
  assert.equal((await api.call('GET', '/layers/gone')).json.error.code, 'unknown_layer');
  assert.ok(!(await api.call('GET', '/layers')).json.layers.some((l) => l.name === 'gone'));
  await changesNothing(async () => {
    for (let i = 0; i < 3; i++) {
      const res = await display('gone', { customer_id: `v${i}` });
      assert.deepEqual([res.status, res.error?.code], [404, 'unknown_layer'], res.text);
    }
    const again = await api.call('DELETE', '/layers/gone');
    assert.deepEqual([again.status, again.json.error.code], [404, 'unknown_layer']);
  });
  const held = (await allCodes(api, 'p', { state: 'assigned' })).find((c) => c.code === code);
  assert.deepEqual([held.customer_id, held.source], ['cy', 'layer:gone']);

  // Created again: its version goes on, and the old compile is not served.
  const recreated = await api.putLayer('gone', { template: `NEW ${TAKE}` });
  assert.equal(recreated.json.version, layer.json.version + 1);
  const now = await display('gone', { customer_id: 'dan' });
  assert.equal(now.status, 200);
  assert.match(now.text, /^NEW D-\d\d$/);
});

test('the rate limit counts an IPv6 client by its /64 and an IPv4 client by its address', async () => {
  const limited = await startWorker({ ratelimits: { RENDER_RATE_LIMIT: { simple: { limit: 3, period: 60 } } } });
  try {
    const other = await createProject(limited.base, 'limited');
    await other.putLayer('l', { template: 'hello' });
    const from = async (ip) => {
      const res = await fetch(`${limited.base}/v1/projects/limited/layers/l/render`, { headers: { 'cf-connecting-ip': ip } });
      await res.text();
      return res.status;
    };
    // Four addresses of one /64 are one client.
    const statuses = [];
    for (const ip of ['2001:db8:a:b::1', '2001:db8:a:b::2', '2001:db8:a:b:ffff::9', '2001:db8:a:b:1:2:3:4']) {
      statuses.push(await from(ip));
    }
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    // The next /64 and an IPv4 address are other clients.
    assert.equal(await from('2001:db8:a:c::1'), 200);
    assert.equal(await from('198.51.100.9'), 200);
  } finally {
    await limited.stop();
  }
});
