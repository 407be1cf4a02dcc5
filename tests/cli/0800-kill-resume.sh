# kill -9 in every phase of a 50K run against a real Chroma server, under CPU
# contention (one core kept busy), resumed after each kill: at the end Chroma
# holds exactly the expected ids (tools/kill-resume.sh does the work and the
# checking; its report is printed here).
. "$(dirname "$0")/lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
[ -x "$root/tools/chroma/node_modules/.bin/chroma" ] || { skip "kill -9 and resume at 50K" "chroma not installed (tools/install-deps.sh --chroma)"; exit 0; }
BUILD="$BUILD" bash "$root/tools/kill-resume.sh" --count 50000 --dim 32 --hog --seed 11 >"$TMPDIR/kr.out" 2>&1
rc=$?
sed 's/^/# /' "$TMPDIR/kr.out" | grep -v "^# \[kill-resume"
[ $rc -eq 0 ] && ok "kill -9 in every phase at 50K under CPU contention: Chroma holds exactly the expected ids" ||
	fail "kill -9 and resume at 50K" "exit $rc"
grep -q "^ingest: KILLED while running" "$TMPDIR/kr.out" && ok "ingest was killed while it ran" || fail "ingest was killed while it ran"
grep -q "^loadtest: KILLED while running" "$TMPDIR/kr.out" && ok "the load test was killed while it ran" || fail "the load test was killed while it ran"
# the pure steps last milliseconds here: hitting one is luck, so it is reported, not required
echo "# pure steps killed while they ran: $(grep -cE "^(corpus|embed|centroids|synthetic|queries|groundtruth): KILLED" "$TMPDIR/kr.out")"
