// Seeds the demo project: creates it, pool `welcome10` with 500 demo codes
// and an active layer `welcome`. Idempotent: running it again imports
// nothing new.
// Usage: node scripts/seed-demo.mjs BASE_URL TOKEN; the browser tests import
// seedDemo() to seed the same project with fewer codes.
import { pathToFileURL } from 'node:url';

export async function seedDemo(base, token, { codes: count = 500 } = {}) {
  const api = `${base}/v1/projects/demo`;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const call = async (method, path, body) => {
    const res = await fetch(api + path, { method, headers, body: JSON.stringify(body) });
    const json = await res.json();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };

  // A project exists once created (the operator's token); again is a no-op.
  await call('PUT', '', {});
  await call('PUT', '/pools/welcome10', { description: '10% off your first order (demo codes)' });
  const codes = Array.from({ length: count }, (_, i) => `WELCOME-${String(i + 1).padStart(4, '0')}`);
  const report = await call('POST', '/pools/welcome10/import', { codes });
  // The loader shows the layer in a shadow root, so the template's <style>
  // applies to the layer only.
  await call('PUT', '/layers/welcome', {
    active: true,
    template: `<style>
  .codepool-layer { text-align: center; padding: .5rem .25rem 0; }
  .codepool-layer h2 { font: 400 1.6rem/1.2 Georgia, serif; margin: 0 0 .5rem; }
  .codepool-code { display: inline-block; border: 2px dashed #27323f; border-radius: 8px; padding: .5rem 1rem; margin: .25rem 0; }
  .codepool-left { font-size: .85rem; color: #6b7280; }
  .codepool-layer button { border: 0; border-radius: 8px; background: #27323f; color: #fff; padding: .7rem 1.4rem; cursor: pointer; }
</style>
<div class="codepool-layer">
  <h2>Welcome to Northwind Linen</h2>
  <p>Here is 10% off your first order. Use this code at checkout:</p>
  <p class="codepool-code">{{ vouchers['welcome10'].assign_available_code() }}</p>
  <p class="codepool-left">{{ vouchers['welcome10'].count_available_codes() }} of {{ vouchers['welcome10'].count_total_codes() }} codes left</p>
  <button type="button" data-codepool-close>Start shopping</button>
</div>`,
  });
  const pool = await call('GET', '/pools/welcome10');
  return { imported: report.imported, pool };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [base, token] = process.argv.slice(2);
  const { imported, pool } = await seedDemo(base, token);
  console.log(`Demo project seeded: pool welcome10 imported ${imported} new codes, ` +
    `${pool.available} of ${pool.total} available; layer welcome is active.`);
}
