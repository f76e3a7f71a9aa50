// Every route × every credential. The routes and who may call each come
// from the API description (tests/native/api.rs keeps its `security` equal to
// the router's table, ROUTES, down to the key scopes that open a route), so
// no case below is written by hand: a credential opens an operation when
// one of its `security` alternatives names it, and is refused otherwise:
// 403 `forbidden` when the token is a valid one whose scope falls short, 401
// `unauthorized` when it opens nothing here (none, wrong, revoked, or a key
// of another project). Refused calls change nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, createProject, TOKEN, TRACKING_TOKEN } from './worker.mjs';
import { snapshot } from './state.mjs';

const PROJECT = 'authwalk';
const OTHER = 'authwalk-other';
const SCOPES = ['admin', 'read', 'tracking'];

let worker;
let spec;
let api;
/** Every credential: a name, the Authorization header, and what it is. */
let credentials;

before(async () => {
  worker = await startWorker();
  const res = await fetch(`${worker.base}/v1/openapi.json`);
  assert.equal(res.status, 200);
  spec = await res.json();
  api = await createProject(worker.base, PROJECT);
  const other = await createProject(worker.base, OTHER);
  const key = async (project, scope, name = scope) => {
    const made = await project.call('POST', '/keys', { name, scope });
    assert.equal(made.status, 201, made.text);
    return made.json;
  };
  const revoked = await key(api, 'admin', 'revoked');
  assert.equal((await api.call('DELETE', `/keys/${revoked.id}`)).status, 200);
  credentials = [
    { name: 'no token', header: undefined, is: 'nothing' },
    { name: 'a Basic header', header: 'Basic YWRtaW46YWRtaW4=', is: 'nothing' },
    { name: 'a wrong token', header: 'Bearer wrong-token', is: 'nothing' },
    { name: 'the admin token with a character more', header: `Bearer ${TOKEN}x`, is: 'nothing' },
    { name: 'ADMIN_TOKEN', header: `Bearer ${TOKEN}`, is: 'operator' },
    { name: 'TRACKING_TOKEN', header: `Bearer ${TRACKING_TOKEN}`, is: 'tracking' },
    ...await Promise.all(SCOPES.map(async (scope) => (
      { name: `a ${scope} key of this project`, header: `Bearer ${(await key(api, scope)).key}`, is: 'key', scope }))),
    ...await Promise.all(SCOPES.map(async (scope) => (
      { name: `a ${scope} key of another project`, header: `Bearer ${(await key(other, scope)).key}`, is: 'nothing' }))),
    { name: 'a revoked admin key', header: `Bearer ${revoked.key}`, is: 'nothing' },
  ];
});
after(async () => { await worker?.stop(); });

const example = { project: PROJECT, pool: 'p', layer: 'l', campaign: 'c', key: '0123456789abcdef', code: 'CODE-1' };

/** Each operation of the description with the security alternatives it accepts. */
const operations = () => Object.entries(spec.paths).flatMap(([path, item]) =>
  Object.entries(item).filter(([m]) => ['get', 'put', 'post', 'delete', 'patch'].includes(m))
    .map(([method, op]) => ({
      id: op.operationId,
      method: method.toUpperCase(),
      path,
      url: worker.base + path.replace(/\{(\w+)\}/g, (_, k) => example[k]),
      // [scheme, roles] of each alternative (each names one scheme here).
      security: op.security.map((alternative) => Object.entries(alternative)[0]),
    })));

/** Whether a credential opens an operation, from its security alternatives alone. */
function opens(credential, op) {
  if (op.security.length === 0) return true;
  return op.security.some(([scheme, roles]) => {
    switch (credential.is) {
      case 'operator': return scheme === 'operator';
      case 'tracking': return scheme === 'tracking';
      case 'key': return scheme === 'projectKey' && roles.includes(credential.scope);
      default: return false;
    }
  });
}

/** What a refused credential gets: a token that is valid somewhere here is forbidden, any other unauthorized. */
const refusal = (credential) => (credential.is === 'nothing' ? [401, 'unauthorized'] : [403, 'forbidden']);

async function send(op, credential) {
  const headers = { 'content-type': 'application/json' };
  if (credential.header) headers.authorization = credential.header;
  const body = ['POST', 'PUT'].includes(op.method) ? '{}' : undefined;
  const res = await fetch(op.url, { method: op.method, headers, body });
  const text = await res.text();
  let code;
  try { code = JSON.parse(text).error?.code; } catch { code = undefined; }
  return { status: res.status, code, text };
}

/** Everything the project holds, its keys included. */
async function state() {
  return { ...await snapshot(api), keys: (await api.call('GET', '/keys')).json };
}

test('the API description is served, is OpenAPI 3.1, and every operation says who may call it', () => {
  assert.equal(spec.openapi, '3.1.0');
  assert.ok(operations().length >= 20);
  const schemes = new Set(Object.keys(spec.components.securitySchemes));
  assert.deepEqual([...schemes].sort(), ['operator', 'projectKey', 'tracking']);
  for (const op of operations()) {
    for (const [scheme, roles] of op.security) {
      assert.ok(schemes.has(scheme), `${op.id}: ${scheme}`);
      for (const role of roles) assert.ok(SCOPES.includes(role), `${op.id}: ${role}`);
    }
    // The operator opens every route that is not public.
    if (op.security.length) assert.ok(op.security.some(([s]) => s === 'operator'), op.id);
  }
});

test('every credential the routes refuse is refused, and the refused calls change nothing', async () => {
  const before = await state();
  let refused = 0;
  for (const op of operations()) {
    for (const credential of credentials.filter((c) => !opens(c, op))) {
      const res = await send(op, credential);
      assert.deepEqual([res.status, res.code], refusal(credential),
        `${op.method} ${op.path} with ${credential.name}: ${res.text.slice(0, 200)}`);
      refused++;
    }
  }
  // Most of the table is refusals: the other project's keys and the wrong
  // tokens on every route that is not public, and the scopes that fall short.
  assert.ok(refused >= 7 * 20, `refused ${refused}`);
  assert.deepEqual(await state(), before);
});

test('every credential a route accepts gets through to the route', async () => {
  let accepted = 0;
  for (const op of operations()) {
    for (const credential of credentials.filter((c) => opens(c, op))) {
      const res = await send(op, credential);
      // Past authentication: the route's own answer (200, or a 4xx about
      // the example request), never a refusal of the token.
      assert.ok(!['unauthorized', 'forbidden'].includes(res.code) && res.status < 500,
        `${op.method} ${op.path} with ${credential.name}: ${res.status} ${res.text.slice(0, 200)}`);
      accepted++;
    }
  }
  assert.ok(accepted >= 3 * 20, `accepted ${accepted}`);
});

test('what each scope opens, in words: the table the cases above derive', () => {
  const table = Object.fromEntries(operations().map((op) => [op.id, op.security.length === 0 ? 'anyone'
    : credentials.filter((c) => c.is !== 'nothing' && opens(c, op)).map((c) => (c.is === 'key' ? `${c.scope} key` : c.name)).join(', ')]));
  assert.deepEqual(table, {
    putProject: 'ADMIN_TOKEN',
    getProject: 'ADMIN_TOKEN, admin key, read key',
    createKey: 'ADMIN_TOKEN, admin key',
    listKeys: 'ADMIN_TOKEN, admin key',
    revokeKey: 'ADMIN_TOKEN, admin key',
    listPools: 'ADMIN_TOKEN, admin key, read key',
    putPool: 'ADMIN_TOKEN, admin key',
    getPool: 'ADMIN_TOKEN, admin key, read key',
    deletePool: 'ADMIN_TOKEN, admin key',
    importCodes: 'ADMIN_TOKEN, admin key',
    generateCodes: 'ADMIN_TOKEN, admin key',
    poolActivity: 'ADMIN_TOKEN, admin key, read key',
    listLayers: 'ADMIN_TOKEN, admin key, read key',
    putLayer: 'ADMIN_TOKEN, admin key',
    getLayer: 'ADMIN_TOKEN, admin key, read key',
    deleteLayer: 'ADMIN_TOKEN, admin key',
    renderLayer: 'anyone',
    getSettings: 'ADMIN_TOKEN, admin key, read key',
    putSettings: 'ADMIN_TOKEN, admin key',
    trackEvents: 'ADMIN_TOKEN, TRACKING_TOKEN, admin key, tracking key',
    listEvents: 'ADMIN_TOKEN, admin key, read key',
    sendCampaign: 'ADMIN_TOKEN, admin key',
    render: 'ADMIN_TOKEN, admin key',
    openApi: 'anyone',
    listCodes: 'ADMIN_TOKEN, admin key, read key',
    voidCode: 'ADMIN_TOKEN, admin key',
    rollbackCode: 'ADMIN_TOKEN, admin key',
  });
});
