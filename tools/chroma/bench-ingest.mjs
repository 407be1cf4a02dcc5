// bench-ingest.mjs — Chroma's own JS client (the pinned chromadb package in
// this directory) loading vectors the way a user's script would: upsert in
// batches of BATCH with CONCURRENCY requests in flight (a promise pool),
// each failed batch counted (the client has no retry of its own) and not
// retried. The peer side of tools/bench/chroma-ingest.sh.
//
//   node tools/chroma/bench-ingest.mjs URL COLLECTION VECTORS.fvecs BATCH CONCURRENCY
//
// The vectors are read from an .fvecs file first (not timed); ids are
// syn-<row> and documents "Synthetic memory <row>: ..." strings of the
// length engrave sends. Prints one line of JSON: records, stored,
// failed_batches, seconds, records_per_s, first_error.
import { readFileSync } from "node:fs";
import { ChromaClient } from "chromadb";

const [url, name, path, batchArg, concArg] = process.argv.slice(2);
if (!url || !name || !path) {
  console.error("usage: node bench-ingest.mjs URL COLLECTION VECTORS.fvecs BATCH CONCURRENCY");
  process.exit(2);
}
const batch = Number(batchArg || 1000);
const concurrency = Number(concArg || 20);

const raw = readFileSync(path);
const dim = raw.readInt32LE(0);
const rowBytes = 4 + 4 * dim;
const rows = raw.length / rowBytes;
const embeddings = new Array(rows);
for (let r = 0; r < rows; r++) {
  const f = new Float32Array(raw.buffer, raw.byteOffset + r * rowBytes + 4, dim);
  embeddings[r] = Array.from(f);
}

const u = new URL(url);
const client = new ChromaClient({
  host: u.hostname,
  port: Number(u.port || 80),
  ssl: u.protocol === "https:",
});
const coll = await client.getOrCreateCollection({
  name,
  embeddingFunction: null,
  configuration: { hnsw: { space: "cosine" } },
});

let next = 0;
let stored = 0;
let failed = 0;
let firstError = "";
async function worker() {
  for (;;) {
    const start = next;
    if (start >= rows) return;
    next = Math.min(rows, start + batch);
    const ids = [], embs = [], docs = [];
    for (let r = start; r < next; r++) {
      ids.push(`syn-${r}`);
      embs.push(embeddings[r]);
      docs.push(`Synthetic memory ${String(r).padStart(7, "0")}: benchmark record for ingest.`);
    }
    try {
      await coll.upsert({ ids, embeddings: embs, documents: docs });
      stored += ids.length;
    } catch (err) {
      failed++;
      if (!firstError) firstError = String(err && err.message ? err.message : err).slice(0, 200);
    }
  }
}
const t0 = process.hrtime.bigint();
await Promise.all(Array.from({ length: concurrency }, worker));
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({
  records: rows,
  stored,
  failed_batches: failed,
  seconds: secs,
  records_per_s: stored / secs,
  first_error: firstError,
}));
