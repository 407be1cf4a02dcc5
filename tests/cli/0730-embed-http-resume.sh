# The http embedder against a real (small, slow) OpenAI-compatible server:
#  - kill -9 during embed, rerun: the same digest as an uninterrupted run,
#    and the rerun takes the already embedded texts from the cache;
#  - a rerun with a larger corpus limit embeds only the new articles.
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
port=$(free_port)
cat >"$TMPDIR/embed_server.py" <<'PY'
# Deterministic OpenAI-style embeddings: each text's vector comes from SHA-256
# of the text; every request sleeps so a client can be killed mid-run.
import hashlib, json, struct, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
DIM = 768
def vec(text):
    out, ctr = [], 0
    while len(out) < DIM:
        h = hashlib.sha256(text.encode() + struct.pack("<I", ctr)).digest()
        out += [(b - 127.5) / 127.5 for b in h]
        ctr += 1
    return out[:DIM]
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        time.sleep(0.15)
        data = [{"object": "embedding", "index": i, "embedding": vec(t)} for i, t in enumerate(body["input"])]
        out = json.dumps({"object": "list", "data": data, "model": body["model"]}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out))); self.end_headers(); self.wfile.write(out)
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
$py "$TMPDIR/embed_server.py" "$port" &
srv=$!
trap 'kill $srv 2>/dev/null; wait $srv 2>/dev/null' EXIT
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done
spec() { # $1 file, $2 limit
	cat >"$1" <<YAML
name: embed-http
seed: 1
steps:
  corpus: {source: mediawiki, path: $PWD/experiments/data/sample-wiki.xml, limit: $2}
  embed: {embedder: http, url: "http://127.0.0.1:$port/v1/embeddings", model: test-model, dim: 768,
          batch_size: 2, concurrency: 1}
YAML
}
embed_of() { $py -c 'import json,sys; r=json.load(open(sys.argv[1])); s=[x for x in r["steps"] if x["name"]=="embed"][0]; print(s["outputs"][0], "|", s["message"])' "$1"; }

spec "$TMPDIR/all.yaml" 0
"$ENGRAVE" --store "$TMPDIR/ref" run --json "$TMPDIR/all.yaml" >"$TMPDIR/ref.json" 2>"$TMPDIR/ref.err"
[ $? -eq 0 ] && ok "uninterrupted http embed" || { fail "uninterrupted http embed"; tail -3 "$TMPDIR/ref.err" | sed 's/^/# /'; }

"$ENGRAVE" --store "$TMPDIR/k" run "$TMPDIR/all.yaml" >"$TMPDIR/k1.out" 2>&1 &
pid=$!
sleep 1.5
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
grep -q "embed       done" "$TMPDIR/k1.out" && skip "killed during embed" "embed finished first" || ok "killed during embed"
"$ENGRAVE" --store "$TMPDIR/k" run --json "$TMPDIR/all.yaml" >"$TMPDIR/k.json" 2>/dev/null
[ $? -eq 0 ] && ok "rerun after the kill" || fail "rerun after the kill"
a=$(embed_of "$TMPDIR/ref.json"); b=$(embed_of "$TMPDIR/k.json")
echo "# ref: $a"; echo "# got: $b"
[ "${a%% *}" = "${b%% *}" ] && ok "same embed digest after kill + rerun" || fail "same embed digest after kill + rerun"
case "$b" in *" 0 from cache"*) fail "the rerun used the cache" ;; *"from cache"*) ok "the rerun used the cache" ;; *) fail "the rerun used the cache" ;; esac

spec "$TMPDIR/l20.yaml" 20
spec "$TMPDIR/l30.yaml" 30
"$ENGRAVE" --store "$TMPDIR/inc" run --json "$TMPDIR/l20.yaml" >/dev/null 2>&1
"$ENGRAVE" --store "$TMPDIR/inc" run --json "$TMPDIR/l30.yaml" >"$TMPDIR/l30.json" 2>/dev/null
m=$(embed_of "$TMPDIR/l30.json"); echo "# $m"
case "$m" in *"10 embedded, 20 from cache"*) ok "a larger limit embeds only the new articles" ;; *) fail "a larger limit embeds only the new articles" "$m" ;; esac
