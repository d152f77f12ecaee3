#!/usr/bin/env bash
# Regenerates ecs_flat.json (this folder) from npm's @elastic/ecs 9.4.0, the ECS definitions package
# Elastic generates from the ECS release's generated/ecs/ecs_flat.yml (see PROVENANCE.md).
#
#     npm pack @elastic/ecs@9.4.0            # writes elastic-ecs-9.4.0.tgz
#     bash tests/data/ecs-9.4.0/derive.sh elastic-ecs-9.4.0.tgz
#
# Needs node (any version with require()), tar and openssl. The tarball is checked against the registry's
# integrity value first; the JSON is every entry of the package's EcsFlat object with every key,
# as the package holds it, written with 1-space indent and keys in the package's order.
set -euo pipefail
TGZ="${1:?usage: derive.sh elastic-ecs-9.4.0.tgz}"
HERE="$(cd "$(dirname "$0")" && pwd)"
WANT="sha512-znk6Jr38KNRsyUKstormNX4QKtqnwQY1EWqrMCWIg/nY6dC1imSxzrdR6xuljxnY6JHj+/9NdTiRohVbeUEA/Q=="
GOT="sha512-$(openssl dgst -sha512 -binary "$TGZ" | openssl base64 -A)"
[ "$GOT" = "$WANT" ] || { echo "integrity mismatch: $GOT" >&2; exit 1; }
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
tar -xzf "$TGZ" -C "$TMP"
node - "$TMP/package" "$HERE/ecs_flat.json" <<'JS'
const fs = require('fs');
const path = require('path');
const vm = require('vm');
const assert = require('assert');
const [pkgDir, out] = process.argv.slice(2);
const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
assert.strictEqual(pkg.name, '@elastic/ecs');
assert.strictEqual(pkg.version, '9.4.0');
// The compiled module the package's main entry exports.
const flat = require(path.join(pkgDir, 'build/commonjs/ecs_flat.js')).EcsFlat;
// The generator's source file, generated/ecs_flat.ts, is one object literal behind
// `export const EcsFlat =`: evaluated as JavaScript it must equal the compiled module.
// (generated/ecs_flat.js in the same package is a stale older compile, ~1,700 fields: not used.)
const ts = fs.readFileSync(path.join(pkgDir, 'generated/ecs_flat.ts'), 'utf8');
const src = ts.replace('export const EcsFlat =', 'EcsFlat =');
const ctx = {};
vm.runInNewContext(src, ctx);
assert.deepStrictEqual(JSON.parse(JSON.stringify(ctx.EcsFlat)), JSON.parse(JSON.stringify(flat)));
// The ECS release the package was generated from (its `version` file, typed into ecs.version).
const ecsTs = fs.readFileSync(path.join(pkgDir, 'generated/ecs.ts'), 'utf8');
assert.match(ecsTs, /version: '9\.4\.0';/);
for (const [name, f] of Object.entries(flat)) {
  assert.strictEqual(name, f.flat_name);
  assert.ok(typeof f.type === 'string' && Array.isArray(f.normalize) && typeof f.level === 'string', name);
}
fs.writeFileSync(out, JSON.stringify(flat, null, 1) + '\n');
console.error(`${Object.keys(flat).length} fields -> ${out}`);
JS
