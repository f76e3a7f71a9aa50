#!/usr/bin/env bash
# Sets everything up and starts the Worker locally with `wrangler dev` on
# 127.0.0.1:8787, with a demo project: a pool of demo codes and an active
# layer. Stop it with Ctrl-C. State persists in .wrangler/state.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
# The console's live preview runs the wasm render function in the browser.
bash scripts/build-www.sh

HOST=127.0.0.1
PORT=${PORT:-8787}
BASE="http://$HOST:$PORT"

if [ ! -f .dev.vars ]; then
  echo "ADMIN_TOKEN=$(node -e 'console.log(require("crypto").randomBytes(24).toString("base64url"))')" > .dev.vars
  echo "Created .dev.vars with a new local ADMIN_TOKEN."
fi
TOKEN=$(sed -n 's/^ADMIN_TOKEN=//p' .dev.vars)

wrangler dev --ip "$HOST" --port "$PORT" &
WRANGLER=$!
trap 'kill $WRANGLER 2>/dev/null; wait $WRANGLER 2>/dev/null' EXIT INT TERM

for _ in $(seq 1 180); do
  if curl -fs -o /dev/null "$BASE/"; then break; fi
  if ! kill -0 $WRANGLER 2>/dev/null; then echo "wrangler dev stopped"; exit 1; fi
  sleep 1
done

node scripts/seed-demo.mjs "$BASE" "$TOKEN"

cat <<MSG

  codepool is running at $BASE

  Demo shop page with a layer:  $BASE/
  Admin console:                $BASE/admin/   (sign in with the token below, project demo)
  The layer alone:              $BASE/v1/projects/demo/layers/welcome/render?customer_id=ada
  Admin token (.dev.vars):      $TOKEN

  Try:  curl -H "Authorization: Bearer $TOKEN" $BASE/v1/projects/demo/pools/welcome10

MSG
wait $WRANGLER
