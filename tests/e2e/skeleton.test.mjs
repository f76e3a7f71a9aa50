// The walking skeleton end to end under workerd: pools, import, layer render, auth.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, client, createProject } from './worker.mjs';

let worker;
before(async () => { worker = await startWorker(); });
after(async () => { await worker?.stop(); });

test('a layer hands out each imported code once, then answers 204', async () => {
  const api = await createProject(worker.base, 'skeleton');
  assert.equal((await api.putPool('spring10')).status, 200);
  const imported = await api.importJson('spring10', ['AAA-1', 'BBB-2', 'CCC-3', 'AAA-1']);
  assert.equal(imported.status, 200);
  assert.deepEqual(
    { ...imported.json, invalid_samples: undefined },
    { total_rows: 4, imported: 3, duplicates_in_file: 1, already_in_project: 0, invalid: 0, invalid_samples: undefined },
  );
  const layer = await api.putLayer('welcome', {
    template: '<p>Hi {{ customer.id }}, your code: {{ vouchers["spring10"].assign_available_code() }}</p>',
  });
  assert.equal(layer.status, 200, layer.text);

  const codes = [];
  for (const customer of ['c1', 'c2', 'c3']) {
    const res = await api.render('welcome', customer);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /text\/html/);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    const code = res.text.match(/your code: (\S+)<\/p>/)[1];
    assert.ok(res.text.startsWith(`<p>Hi ${customer},`));
    codes.push(code);
    const pool = (await api.getPool('spring10')).json;
    assert.equal(pool.assigned, codes.length);
    assert.equal(pool.available, 3 - codes.length);
  }
  assert.deepEqual([...codes].sort(), ['AAA-1', 'BBB-2', 'CCC-3']);

  const empty = await api.render('welcome', 'c4');
  assert.equal(empty.status, 204);
  assert.equal(empty.text, '');
  assert.deepEqual(
    (await api.getPool('spring10')).json,
    { ...(await api.getPool('spring10')).json, total: 3, available: 0, assigned: 3, redeemed: 0 },
  );
});

test('a code already in the project is discarded on import into another pool', async () => {
  const api = await createProject(worker.base, 'uniq');
  await api.putPool('a');
  await api.putPool('b');
  await api.importJson('a', ['X1', 'X2']);
  const res = await api.importJson('b', ['X2', 'X3']);
  assert.equal(res.json.imported, 1);
  assert.equal(res.json.already_in_project, 1);
});

test('admin routes need the right token; errors are JSON', async () => {
  const admin = await createProject(worker.base, 'auth');
  const none = client(worker.base, 'auth', null);
  const wrong = client(worker.base, 'auth', 'not-the-token');
  for (const api of [none, wrong]) {
    for (const res of [await api.putPool('p'), await api.getPool('p'), await api.importJson('p', ['A']),
      await api.putLayer('l', { template: 'x' })]) {
      assert.equal(res.status, 401);
      assert.equal(res.json.error.code, 'unauthorized');
      assert.ok(res.json.error.message.length > 0);
    }
  }
  // Nothing was created by the refused calls.
  assert.equal((await admin.getPool('p')).json.error.code, 'unknown_pool');
});

test('unknown layers, unknown routes and wrong methods get JSON errors', async () => {
  const api = await createProject(worker.base, 'errors');
  const missing = await api.render('nope', 'c1');
  assert.equal(missing.status, 404);
  assert.equal(JSON.parse(missing.text).error.code, 'unknown_layer');
  const method = await api.call('PATCH', '/pools/x');
  assert.equal(method.status, 405);
  assert.equal(method.json.error.code, 'method_not_allowed');
  assert.equal(method.headers.get('allow'), 'PUT, GET, DELETE');
  const route = await api.call('GET', '/nothing/here');
  assert.equal(route.status, 404);
  assert.equal(route.json.error.code, 'no_such_route');
});

test('a paused layer answers 204 and takes nothing', async () => {
  const api = await createProject(worker.base, 'paused');
  await api.putPool('p');
  await api.importJson('p', ['P1']);
  const template = '{{ vouchers["p"].assign_available_code() }}';
  await api.putLayer('l', { template, active: false });
  assert.equal((await api.render('l', 'c1')).status, 204);
  assert.equal((await api.getPool('p')).json.available, 1);
  // Activating it shows the code (the cached template is not stale).
  await api.putLayer('l', { template, active: true });
  const shown = await api.render('l', 'c1');
  assert.equal(shown.status, 200);
  assert.equal(shown.text, 'P1');
});

test('a template syntax error is refused when the layer is stored', async () => {
  const api = await createProject(worker.base, 'syntax');
  const res = await api.putLayer('bad', { template: 'line 1\n{{ vouchers[ }}' });
  assert.equal(res.status, 422);
  assert.equal(res.json.error.code, 'template_syntax_error');
  assert.match(res.json.error.message, /^line 2, column \d+/);
  assert.equal((await api.render('bad', 'c1')).status, 404);
});

test('a layer renders with its variables and default customer attributes', async () => {
  const api = await createProject(worker.base, 'variables');
  await api.putPool('p');
  await api.importJson('p', ['V-1']);
  const res = await api.putLayer('l', {
    template: 'Hi {{ customer.first_name }} ({{ customer.id }}): {% for p in products %}{{ p.name }} {% endfor %}{{ vouchers["p"].assign_available_code() }} {{ params.utm_source }}',
    variables: { customer: { first_name: 'there' }, products: [{ name: 'Tote & bag' }] },
  });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json.variables.products, [{ name: 'Tote & bag' }]);
  const shown = await fetch(`${worker.base}/v1/projects/variables/layers/l/render?customer_id=ada&utm_source=mail`);
  assert.equal(await shown.text(), 'Hi there (ada): Tote &amp; bag V-1 mail');
});

test('a layer that asks differently per display still shows exactly what it took', async () => {
  // The Worker starts a display from the last display's plan; here the plan
  // changes with a query parameter, so the store must be asked again, and
  // codes taken for a plan that did not hold must go back.
  const api = await createProject(worker.base, 'plans');
  await api.putPool('p');
  const all = Array.from({ length: 12 }, (_, i) => `P-${String(i).padStart(2, '0')}`);
  await api.importJson('p', all);
  await api.putLayer('l', {
    template: '{{ vouchers["p"].assign_available_code() }}{% if params.tier == "gold" %} {{ vouchers["p"].assign_available_code() }}{% endif %}',
  });
  const url = (customer, tier) => `${worker.base}/v1/projects/plans/layers/l/render?customer_id=${customer}&tier=${tier}`;
  const shown = [];
  for (const [i, tier] of ['gold', 'silver', 'silver', 'gold', 'silver', 'gold'].entries()) {
    const res = await fetch(url(`c${i}`, tier));
    assert.equal(res.status, 200);
    const codes = (await res.text()).split(' ');
    assert.equal(codes.length, tier === 'gold' ? 2 : 1, `${tier}: ${codes}`);
    shown.push(...codes);
  }
  assert.equal(new Set(shown).size, shown.length, 'no code shown twice');
  const pool = (await api.getPool('p')).json;
  assert.equal(pool.assigned, shown.length, 'every assigned code was shown');
  assert.equal(pool.available, all.length - shown.length);
  const assigned = (await api.listCodes('p', { state: 'assigned', limit: 100 })).json.codes.map((c) => c.code);
  assert.deepEqual(assigned.sort(), [...shown].sort());

  // A layer changed between displays renders its new template at once.
  await api.putLayer('l', { template: 'new {{ vouchers["p"].assign_available_code() }}' });
  const res = await fetch(url('c9', 'gold'));
  assert.match(await res.text(), /^new P-\d\d$/);
});
