# Recall scoring end to end on the embedded (exact) index: with stores
# interleaved and many exact ties (the load's stores without centroids are
# axis vectors) recall is exactly 1, in cosine and in l2 (which has no
# threshold: a default threshold of 0.5 used to leave l2 runs unscored without
# a word; and the l2 run, after a cosine one in the same store, must not
# reuse the cosine ground truth). A threshold no ground-truth neighbour reaches makes recall
# unscorable: the run says why (run summary, show, show --json) and a recall
# check fails with that reason (exit 1, not 3), in run and in check; so does
# a recall check on a load test that sends no recalls.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
S="$TMPDIR/store"
E() { "$ENGRAVE" --store "$S" "$@"; }

spec() { # NAME SPACE THRESHOLD NOISE MIX-RECALL
	cat >"$TMPDIR/$1.yaml" <<YAML
name: recall-$1
seed: 11
target: {driver: embedded, hnsw: {space: $2}}
steps:
  corpus: {source: sample, limit: 40}
  embed: {embedder: hashing, dim: 16}
  queries: {count: 10, source: corpus, noise: $4}
  groundtruth: {k: 5}
  ingest: {}
  loadtest:
    duration: 2s
    arrival: {pattern: constant, rate: 100}
    mix: {store: 1, recall: $5, search: 0}
    recall: {k: 5, threshold: $3}
checks:
  recall: ">= 1"
YAML
}
spec cos cosine 0.3 0.05 1
spec l2 l2 0.5 0.05 1
spec high cosine 0.99 0.3 1
spec none cosine 0.3 0.05 0

last_id() { E runs --json 2>/dev/null | $PY -c "import json,sys; d=json.load(sys.stdin); d=d if isinstance(d,list) else d['runs']; print([r['id'] for r in d if r['spec']=='recall-$1'][-1])"; }
metrics() { E show "$1" --json 2>/dev/null | $PY -c "import json,sys; m=json.load(sys.stdin)['metrics']; print(' '.join('%s=%g' % (k, m[k]) for k in sorted(m) if k.startswith('recall') and not k.endswith('_ms')))"; }

expect_exit 0 "an exact index scores recall 1 (cosine, stores interleaved, ties)" E run "$TMPDIR/cos.yaml"
M=$(metrics "$(last_id cos)")
echo "# $M"
case " $M " in *" recall=1 "*"recall_no_truth=0 "*) ok "cosine: recall 1, every recall scored" ;; *) fail "cosine: recall 1, every recall scored" "$M" ;; esac

expect_exit 0 "an exact index scores recall 1 in l2 (no threshold there)" E run "$TMPDIR/l2.yaml"
M=$(metrics "$(last_id l2)")
echo "# $M"
case " $M " in *" recall=1 "*) ok "l2: recall 1" ;; *) fail "l2: recall 1" "$M" ;; esac

WHY="no query had a ground-truth neighbour with score >= 0.99 (cosine)"
expect_exit 1 "a recall check on an unscorable run fails the run (exit 1)" E run "$TMPDIR/high.yaml"
grep -q "note: recall not scored: $WHY" "$TMPDIR/last.out" && ok "the run summary says why" || fail "the run summary says why"
grep "^recall .*absolute" "$TMPDIR/last.out" | grep -F FAIL | grep -qF "not scored: $WHY" && ok "the check row names the reason" \
	|| fail "the check row names the reason"
H=$(last_id high)
expect_exit 1 "engrave check fails it too (not missing data)" E check "$H"
grep -q "not scored: $WHY" "$TMPDIR/last.out" && ok "check says why" || fail "check says why"
E check "$H" --json 2>/dev/null | $PY -c "
import json, sys
d = json.load(sys.stdin)
r = [x for x in d['rows'] if x['metric'] == 'recall'][0]
assert d['pass'] is False and d['failures'] == 1 and d.get('missing', 0) == 0, d
assert r['verdict'] == 'FAIL' and 'no query had a ground-truth neighbour' in r['note'], r" \
	&& ok "check --json: a failure with the reason" || fail "check --json: a failure with the reason"
expect_exit 0 "show works" E show "$H"
grep -q "note: recall not scored: $WHY" "$TMPDIR/last.out" && ok "show says why" || fail "show says why"
E show "$H" --json 2>/dev/null | $PY -c "
import json, sys
d = json.load(sys.stdin)
assert d['notes'] == ['recall not scored: $WHY'], d.get('notes')
m = d['metrics']
assert 'recall' not in m and m['recall_scored'] == 0 and m['recall_unscored'] == 2 and m['recall_no_truth'] > 0, m" \
	&& ok "show --json: the note and the metrics" || fail "show --json: the note and the metrics"

expect_exit 1 "a recall check on a load without recalls fails" E run "$TMPDIR/none.yaml"
grep -q "not scored: the load test sends no recalls" "$TMPDIR/last.out" && ok "it says the load sends no recalls" \
	|| fail "it says the load sends no recalls"
