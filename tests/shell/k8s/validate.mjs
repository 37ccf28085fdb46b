// Validates Kubernetes objects offline against the API's schemas (kubernetes-models, and
// @kubernetes-models/prometheus-operator for monitoring.coreos.com), the way the API server
// would with strict field validation: the schema's types, formats and required fields, and
// no field the schema does not know (kubernetes-models alone accepts a misspelt field, which
// a cluster silently drops; see unknownFields below).
//
//   node validate.mjs OBJECTS.json...
// Each file holds a JSON array of {"source": "where it came from", "object": {...}}. Prints
// one line per object refused, naming its source, kind and name; exits 1 if any was, 2 on
// bad input. Run by tests/shell/test_k8s.sh from the npm install in the build directory.
import { readFileSync } from "node:fs";

const modules = new Map();

// The model class for apiVersion/kind, or null when neither package has one.
async function modelClass(apiVersion, kind) {
  if (typeof apiVersion !== "string" || typeof kind !== "string") return null;
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const path = group === "monitoring.coreos.com"
    ? `@kubernetes-models/prometheus-operator/${group}/${version}`
    : `kubernetes-models/${group ? `${group}/` : ""}${version}`;
  if (!modules.has(path)) {
    modules.set(path, await import(path).catch(() => null));
  }
  const mod = modules.get(path);
  return mod && typeof mod[kind] === "function" ? mod[kind] : null;
}

// The generated validators read every property their schema declares (`data.x === undefined
// || check(data.x)`) and enumerate the keys of maps (labels, resources.limits). So a key of an
// object whose other keys were read, which was itself never read and whose object was never
// enumerated, is a field the schema does not have. Returns [path, ...] of such keys.
function unknownFields(Model, plain) {
  const records = [];
  const wrap = (value, path) => {
    if (value === null || typeof value !== "object") return value;
    const rec = { path, target: value, read: new Set(), enumerated: false };
    if (!Array.isArray(value)) records.push(rec);
    return new Proxy(value, {
      get(target, key) {
        if (typeof key !== "string") return target[key];
        rec.read.add(key);
        return wrap(target[key], `${path}.${key}`);
      },
      has(target, key) {
        if (typeof key === "string") rec.read.add(key);
        return key in target;
      },
      ownKeys(target) {
        rec.enumerated = true;
        return Reflect.ownKeys(target);
      },
    });
  };
  Model.prototype.validate.call(wrap(plain, ""));
  const unknown = [];
  for (const rec of records) {
    if (rec.enumerated || rec.read.size === 0) continue;
    for (const key of Object.keys(rec.target)) {
      if (!rec.read.has(key)) unknown.push(`${rec.path}.${key}`.replace(/^\./, ""));
    }
  }
  return unknown;
}

async function check(entry) {
  const obj = entry.object;
  const what = `${entry.source}: ${obj?.kind ?? "?"} ${obj?.metadata?.name ?? "?"}`;
  const Model = await modelClass(obj?.apiVersion, obj?.kind);
  if (!Model) return `${what}: unknown apiVersion/kind ${obj?.apiVersion}/${obj?.kind}`;
  const model = new Model(obj);
  try {
    model.validate();
  } catch (err) {
    return `${what}: ${err.message}`;
  }
  const unknown = unknownFields(Model, model.toJSON());
  if (unknown.length) return `${what}: unknown field(s) ${unknown.join(", ")}`;
  return null;
}

if (process.argv.length < 3) {
  console.error("usage: node validate.mjs OBJECTS.json...");
  process.exit(2);
}
let count = 0;
let refused = 0;
for (const file of process.argv.slice(2)) {
  let entries;
  try {
    entries = JSON.parse(readFileSync(file, "utf8"));
    if (!Array.isArray(entries)) throw new Error("not a JSON array");
  } catch (err) {
    console.error(`${file}: ${err.message}`);
    process.exit(2);
  }
  for (const entry of entries) {
    count += 1;
    const problem = await check(entry);
    if (problem) {
      refused += 1;
      console.log(`REFUSED ${problem}`);
    }
  }
}
console.log(`validated ${count} objects, ${refused} refused`);
process.exit(refused ? 1 : 0);
