// The Worker's entry module (build/index.js), around worker-build's output
// (build/glue.js, with the wasm), which keeps its own part: the fetch
// handler, the wasm, its restart after a trap.
//
// - The Rust Durable Object classes come out of the glue as plain classes;
//   workerd answers RPC calls only for classes declared with `extends
//   DurableObject`, so each is wrapped here and its one RPC method,
//   `command`, forwarded to Rust (worker/src/rpc.rs); `fetch` too, for the
//   Workers of a deploy before RPC.
// - The `worker` crate converts `request.cf` for every request it is handed,
//   which workerd builds afresh on each read: 5% of the CPU of a store call
//   in the V8 profile (bench/profile.mjs). codepool reads nothing of it, so
//   the handler gets the request with `cf` hidden. (A layer's first call
//   to a dispenser reads it through the platform's getter, for the
//   dispenser's location: worker/src/dispenser.rs.)
import { DurableObject } from 'cloudflare:workers';
import Handler, {
  ProjectStore as Store,
  ProjectRegistry as Registry,
  Dispenser as RustDispenser,
} from './glue.js';

export default class Worker extends Handler {
  fetch(request) {
    Object.defineProperty(request, 'cf', { value: undefined });
    return super.fetch(request);
  }
}

/** One project's store: pools, codes, layers, keys (worker/src/project.rs). */
export class ProjectStore extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.rust = new Store(ctx, env);
  }
  command(body) {
    return this.rust.command(body);
  }
  fetch(request) {
    return this.rust.fetch(request);
  }
  // Alerts: near-expiry checks and webhook deliveries (worker/src/alerts.rs).
  alarm() {
    return this.rust.alarm();
  }
}

/** The deployment's registry of created projects (worker/src/registry.rs). */
export class ProjectRegistry extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.rust = new Registry(ctx, env);
  }
  command(body) {
    return this.rust.command(body);
  }
  fetch(request) {
    return this.rust.fetch(request);
  }
}

/** A layer's dispenser: leased codes served near the visitors (worker/src/dispenser.rs). */
export class Dispenser extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.rust = new RustDispenser(ctx, env);
  }
  command(body) {
    return this.rust.command(body);
  }
  fetch(request) {
    return this.rust.fetch(request);
  }
  alarm() {
    return this.rust.alarm();
  }
}
