// The Worker's entry module (build/index.js). worker-build's output
// (build/glue.js, with the wasm) exports the Rust Durable Object classes as
// plain classes; workerd answers RPC calls only for classes declared with
// `extends DurableObject`, so each is wrapped here and its one RPC method,
// `command`, forwarded to Rust (worker/src/rpc.rs). Everything else is the
// glue's own: the fetch handler, the wasm, its restart after a trap.
import { DurableObject } from 'cloudflare:workers';
import handler, { ProjectStore as Store, ProjectRegistry as Registry } from './glue.js';

export default handler;

/** One project's store: pools, codes, layers, keys (worker/src/project.rs). */
export class ProjectStore extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.rust = new Store(ctx, env);
  }
  command(body) {
    return this.rust.command(body);
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
}
