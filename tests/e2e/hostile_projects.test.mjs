// No storage for strangers: a project exists only once the operator created
// it (PUT /v1/projects/{project}). Requests for made-up project names, on
// the public route or any other, with any token, are answered without a
// project's Durable Object being reached, so no SQLite database appears on
// disk. And project keys: created, shown once, listed without secrets,
// revoked; a key opens its own project only, as far as its scope reaches.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startWorker, createProject, client, TOKEN, TRACKING_TOKEN } from './worker.mjs';

let worker;
let dir;
let spec;
before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'codepool-strangers-'));
  worker = await startWorker({ persistTo: dir });
  spec = await (await fetch(`${worker.base}/v1/openapi.json`)).json();
});
after(async () => {
  await worker?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Every SQLite database file under the persist directory, relative paths. */
function databases() {
  const found = [];
  const walk = (d) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith('.sqlite')) found.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return found.sort();
}

const stranger = () => `x-${crypto.randomBytes(6).toString('hex')}`;
const bearer = (token) => (token ? { authorization: `Bearer ${token}` } : {});
/** A key-shaped token no project holds. */
const forgedKey = () => `cpk_${crypto.randomBytes(8).toString('hex')}_${crypto.randomBytes(32).toString('hex')}`;

async function send(method, url, { token, body } = {}) {
  const headers = bearer(token);
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(worker.base + url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, code: json?.error?.code, json, text };
}

test('50 renders of made-up project names answer unknown_project and leave no database behind', async () => {
  // A real project first, so that the registry's own database exists.
  const real = await createProject(worker.base, 'real');
  assert.equal((await real.putPool('p')).status, 200);
  assert.equal((await real.putLayer('x', { template: 'hi' })).status, 200);
  assert.equal((await real.render('x', 'ada')).status, 200);
  const before = databases();
  // The registry's and the real project's (besides each namespace's own
  // metadata.sqlite), nothing else.
  const objects = before.filter((f) => !f.endsWith('metadata.sqlite'));
  assert.equal(objects.length, 2, before.join(', '));

  for (let i = 0; i < 50; i++) {
    const name = stranger();
    const res = await send('GET', `/v1/projects/${name}/layers/x/render?customer_id=c${i}`);
    assert.equal(res.status, 404, res.text);
    assert.equal(res.code, 'unknown_project');
  }
  assert.deepEqual(databases(), before);
});

test('no route, with any token, creates storage for a project that was never created', async () => {
  const before = databases();
  const tokens = [[TOKEN, 404, 'unknown_project'], [forgedKey(), 401, 'unauthorized'], [undefined, 401, 'unauthorized'],
    ['wrong-token', 401, 'unauthorized']];
  let asked = 0;
  for (const [route, item] of Object.entries(spec.paths)) {
    if (!route.includes('{project}')) continue;
    for (const [method, op] of Object.entries(item)) {
      if (op.operationId === 'putProject') continue; // the one route that creates
      const url = route.replace(/\{(\w+)\}/g, (_, k) => (k === 'project' ? stranger() : 'x'));
      const body = ['post', 'put'].includes(method) ? {} : undefined;
      const isPublic = op.security.length === 0;
      for (const [token, status, code] of tokens) {
        const res = await send(method.toUpperCase(), url, { token, body });
        // The public route takes no token: a made-up project is unknown to anyone.
        const expected = isPublic ? [404, 'unknown_project'] : [status, code];
        assert.deepEqual([res.status, res.code], expected, `${method} ${url} with ${token}: ${res.text}`);
        asked++;
      }
    }
  }
  // The tracking token on the tracking route, which it opens: the project is still unknown.
  const tracked = await send('POST', `/v1/projects/${stranger()}/events`, { token: TRACKING_TOKEN, body: { customer_id: 'c', type: 'purchase' } });
  assert.deepEqual([tracked.status, tracked.code], [404, 'unknown_project']);
  assert.ok(asked >= 4 * 20, `asked ${asked}`);
  assert.deepEqual(databases(), before);
});

test('PUT /v1/projects/{project} creates a project once; GET shows it', async () => {
  const name = 'fresh';
  assert.equal((await send('GET', `/v1/projects/${name}`, { token: TOKEN })).code, 'unknown_project');
  const before = databases();
  const created = await send('PUT', `/v1/projects/${name}`, { token: TOKEN });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.json.name, name);
  assert.match(created.json.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  // Its database, and only its.
  assert.equal(databases().length, before.length + 1);
  // Again: nothing changes, the answer says it existed.
  const again = await send('PUT', `/v1/projects/${name}`, { token: TOKEN, body: {} });
  assert.deepEqual([again.status, again.json], [200, created.json]);
  assert.deepEqual((await send('GET', `/v1/projects/${name}`, { token: TOKEN })).json, created.json);
  // The project works: its routes answer for what is in it.
  const api = client(worker.base, name);
  assert.equal((await api.getPool('p')).json.error.code, 'unknown_pool');
  assert.equal(JSON.parse((await api.render('l', 'ada')).text).error.code, 'unknown_layer');

  // Bad input changes nothing.
  for (const [body, status, code] of [[{ description: 'x' }, 400, 'invalid_json'], ['[', 400, 'invalid_json']]) {
    const res = await fetch(`${worker.base}/v1/projects/other`, {
      method: 'PUT', headers: { ...bearer(TOKEN), 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    assert.deepEqual([res.status, (await res.json()).error.code], [status, code]);
  }
  const badName = await send('PUT', '/v1/projects/a%20b', { token: TOKEN });
  assert.deepEqual([badName.status, badName.code], [400, 'invalid_project_name']);
  const query = await send('PUT', '/v1/projects/other?x=1', { token: TOKEN });
  assert.deepEqual([query.status, query.code], [400, 'unknown_parameter']);
  assert.equal((await send('GET', '/v1/projects/other', { token: TOKEN })).code, 'unknown_project');
  assert.equal(databases().length, before.length + 1);
});

test('project keys: shown once, listed without secrets, scoped, revoked', async () => {
  const admin = await createProject(worker.base, 'keyed');
  await admin.putPool('p');
  await admin.importJson('p', ['K-1', 'K-2']);
  await admin.putLayer('l', { template: '{{ vouchers["p"].assign_available_code() }}' });
  const create = async (body, token = TOKEN) => send('POST', '/v1/projects/keyed/keys', { token, body });

  const read = await create({ name: 'dashboard', scope: 'read' });
  assert.equal(read.status, 201, read.text);
  assert.match(read.json.key, /^cpk_[0-9a-f]{16}_[0-9a-f]{64}$/);
  assert.equal(read.json.key.slice(4, 20), read.json.id);
  assert.deepEqual(Object.keys(read.json).sort(), ['created_at', 'id', 'key', 'name', 'scope']);
  const tracking = (await create({ name: 'shop back end', scope: 'tracking' })).json;
  const adminKey = (await create({ name: 'agency', scope: 'admin' })).json;

  // The list never shows a key again, nor its hash.
  const listed = await send('GET', '/v1/projects/keyed/keys', { token: TOKEN });
  assert.equal(listed.status, 200);
  assert.deepEqual(listed.json.keys.map((k) => [k.name, k.scope]),
    [['dashboard', 'read'], ['shop back end', 'tracking'], ['agency', 'admin']]);
  for (const k of [read.json, tracking, adminKey]) {
    assert.ok(!listed.text.includes(k.key.slice(21)), 'a secret is listed');
    assert.ok(!listed.text.includes(crypto.createHash('sha256').update(k.key).digest('hex')), 'a hash is listed');
  }

  // Scopes.
  const as = (key) => client(worker.base, 'keyed', key.key);
  assert.equal((await as(read.json).getPool('p')).status, 200);
  assert.equal((await as(read.json).exportCsv('p')).status, 200);
  const readWrite = await as(read.json).putPool('q');
  assert.deepEqual([readWrite.status, readWrite.json.error.code], [403, 'forbidden']);
  const event = { customer_id: 'ada', type: 'page_view' };
  assert.equal((await as(tracking).call('POST', '/events', event)).status, 200);
  assert.equal((await as(tracking).getPool('p')).status, 403);
  assert.equal((await as(adminKey).putPool('q')).status, 200);
  // An admin key makes and revokes keys of its project, but no project.
  const made = await create({ name: 'made by the agency', scope: 'read' }, adminKey.key);
  assert.equal(made.status, 201, made.text);
  assert.deepEqual((await send('PUT', '/v1/projects/keyed', { token: adminKey.key })).code, 'forbidden');
  assert.deepEqual((await send('PUT', '/v1/projects/agency-new', { token: adminKey.key })).code, 'unauthorized');

  // A key of one project opens nothing in another.
  await createProject(worker.base, 'neighbour');
  for (const key of [read.json, tracking, adminKey]) {
    const res = await send('GET', '/v1/projects/neighbour/pools', { token: key.key });
    assert.deepEqual([res.status, res.code], [401, 'unauthorized']);
  }

  // Bad key requests change nothing.
  for (const [body, code] of [
    [{ name: 'x', scope: 'root' }, 'invalid_json'],
    [{ name: '', scope: 'read' }, 'invalid_key'],
    [{ name: 'a\nb', scope: 'read' }, 'invalid_key'],
    [{ name: 'x'.repeat(101), scope: 'read' }, 'invalid_key'],
    [{ scope: 'read' }, 'invalid_json'],
    [{ name: 'x', scope: 'read', secret: 'mine' }, 'invalid_json'],
  ]) {
    const res = await create(body);
    assert.deepEqual([res.status, res.code], [400, code], JSON.stringify(body));
  }
  assert.deepEqual((await send('POST', '/v1/projects/keyed/keys', { token: TOKEN })).code, 'missing_body');
  assert.equal((await send('GET', '/v1/projects/keyed/keys', { token: TOKEN })).json.keys.length, 4);

  // Revoked: the key opens nothing, at once; revoking again is 404.
  const revoked = await send('DELETE', `/v1/projects/keyed/keys/${read.json.id}`, { token: TOKEN });
  assert.equal(revoked.status, 200, revoked.text);
  assert.deepEqual(revoked.json, { id: read.json.id, name: 'dashboard', scope: 'read', created_at: read.json.created_at });
  const after = await as(read.json).getPool('p');
  assert.deepEqual([after.status, after.json.error.code], [401, 'unauthorized']);
  const again = await send('DELETE', `/v1/projects/keyed/keys/${read.json.id}`, { token: TOKEN });
  assert.deepEqual([again.status, again.code], [404, 'unknown_key']);
  assert.equal((await send('GET', '/v1/projects/keyed/keys', { token: TOKEN })).json.keys.length, 3);
});

test('a key that opens nothing learns nothing: not even that its request was malformed', async () => {
  const api = await createProject(worker.base, 'quiet');
  await api.putPool('p');
  const other = await createProject(worker.base, 'quiet-other');
  const key = (await other.call('POST', '/keys', { name: 'k', scope: 'admin' })).json.key;
  // Each of these is a 400 for the project's own keys.
  for (const [method, route, body] of [
    ['GET', '/pools?nope=1'],
    ['GET', '/pools/p/codes?state=lost'],
    ['GET', '/events?limit=0'],
    ['POST', '/events', { not: 'an event' }],
    ['PUT', '/pools/p', { unknown: 1 }],
    ['POST', '/render', { template: '{{' }],
  ]) {
    const res = await client(worker.base, 'quiet', key).call(method, route, body);
    assert.deepEqual([res.status, res.json.error.code], [401, 'unauthorized'], `${method} ${route}`);
    const own = await api.call(method, route, body);
    assert.ok([400, 422].includes(own.status), `${method} ${route}: ${own.status}`);
  }
});
