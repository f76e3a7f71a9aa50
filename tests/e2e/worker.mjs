// Starts the built Worker (build/index.js) under workerd through Miniflare,
// with real Durable Object SQLite storage, for end-to-end tests.
import { Miniflare } from 'miniflare';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const TOKEN = 'e2e-admin-token';
export const TRACKING_TOKEN = 'e2e-tracking-token';

/**
 * wrangler.toml's `[assets]` as Miniflare options: `www/` served as static
 * files, with the paths of `run_worker_first` going to the Worker first, as
 * under `wrangler dev`.
 */
function assetsOptions() {
  const toml = fs.readFileSync(path.join(root, 'wrangler.toml'), 'utf8');
  const section = toml.split(/^\[assets\]$/m)[1].split(/^\[/m)[0];
  const value = (key) => section.match(new RegExp(`^${key}\\s*=\\s*(.+)$`, 'm'))?.[1];
  return {
    directory: path.join(root, JSON.parse(value('directory'))),
    binding: JSON.parse(value('binding')),
    routerConfig: { has_user_worker: true, static_routing: { user_worker: JSON.parse(value('run_worker_first')) } },
  };
}

/**
 * Starts a Worker with empty storage; call `stop()` when done. With
 * `assets: true` it also serves `www/` (the loader, demo page and console).
 * Without, the Worker still has its `ASSETS` binding, on the files of `www/`
 * (it answers `GET /v1/openapi.json` from `www/v1/openapi.json`), but no
 * static routing in front of it.
 */
export async function startWorker({ persistTo, assets = false, ...options } = {}) {
  const mf = new Miniflare({
    rootPath: root,
    scriptPath: path.join(root, 'build/index.js'),
    modules: true,
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
    ],
    compatibilityDate: '2026-04-20',
    bindings: { ADMIN_TOKEN: TOKEN, TRACKING_TOKEN },
    durableObjects: {
      PROJECTS: { className: 'ProjectStore', useSQLite: true },
      REGISTRY: { className: 'ProjectRegistry', useSQLite: true },
      DISPENSERS: { className: 'Dispenser', useSQLite: true },
    },
    durableObjectsPersist: persistTo ?? false,
    cf: false,
    ...(assets
      ? { assets: assetsOptions() }
      : { serviceBindings: { ASSETS: { disk: { path: path.join(root, 'www'), writable: false } } } }),
    ...options,
  });
  const url = await mf.ready;
  return { mf, base: url.href.replace(/\/$/, ''), stop: () => mf.dispose() };
}

/**
 * Creates a project (`PUT /v1/projects/{project}` with the operator's
 * token; idempotent) and answers a client for it.
 */
export async function createProject(base, name, token = TOKEN) {
  const res = await fetch(`${base}/v1/projects/${name}`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}` } });
  if (res.status !== 201 && res.status !== 200) throw new Error(`creating project ${name}: ${res.status} ${await res.text()}`);
  return client(base, name, token);
}

/** A small API client for one project (which must exist: see `createProject`). */
export function client(base, project, token = TOKEN) {
  const p = `${base}/v1/projects/${project}`;
  const call = async (method, route, body, headers = {}) => {
    const init = { method, headers: { ...headers } };
    if (token) init.headers.authorization = `Bearer ${token}`;
    if (body !== undefined) {
      if (typeof body === 'string' || body instanceof Uint8Array) {
        init.body = body;
      } else {
        init.body = JSON.stringify(body);
        init.headers['content-type'] ??= 'application/json';
      }
    }
    const res = await fetch(p + route, init);
    const text = await res.text();
    let json;
    try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
    return { status: res.status, headers: res.headers, text, json };
  };
  return {
    call,
    putPool: (pool, body = {}) => call('PUT', `/pools/${pool}`, body),
    getPool: (pool) => call('GET', `/pools/${pool}`),
    listPools: () => call('GET', '/pools'),
    importJson: (pool, codes) => call('POST', `/pools/${pool}/import`, { codes }),
    /** POSTs a CSV file (string or bytes); `query` e.g. `?column=voucher`. */
    importCsv: (pool, csv, query = '') =>
      call('POST', `/pools/${pool}/import${query}`, csv, { 'content-type': 'text/csv' }),
    /** One page of codes; `params` become the query string. */
    listCodes: (pool, params = {}) =>
      call('GET', `/pools/${pool}/codes?${new URLSearchParams(params)}`),
    /** The CSV export of a pool's codes. */
    exportCsv: (pool, params = {}) =>
      call('GET', `/pools/${pool}/codes?${new URLSearchParams(params)}`, undefined, { accept: 'text/csv' }),
    putLayer: (layer, body) => call('PUT', `/layers/${layer}`, body),
    render: async (layer, customer) => {
      const res = await fetch(`${p}/layers/${layer}/render?customer_id=${encodeURIComponent(customer)}`);
      return { status: res.status, headers: res.headers, text: await res.text() };
    },
  };
}
