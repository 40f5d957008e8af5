#!/bin/bash
# Whole-boot A/B of idle RSS (issue 23 item 4): `torpor start --workers $W` from the build (no flags) in
# checkout A and checkout B (each with `pnpm -r --filter "./packages/*" build` done), alternating, ROUNDS
# rounds; RSS of the supervisor and each worker IDLE s after "Listening". One boot differs from the next by
# about ±3 MB, so compare means of several boots. Run it under the bench lock:
#   A=/work/wt/base B=/work/wt/branch flock /work/tools/bench.lock bench/scripts/boot-ab.sh
W=${W:-2}; ROUNDS=${ROUNDS:-3}; IDLE=${IDLE:-40}
boot() { # dir label
  local dir=$1 label=$2 D L P
  D=$(mktemp -d /tmp/boot-ab-XXXX); L=$D.log
  (cd $dir && exec node bench/servers/torpor-dist.mjs start --config bench/project/wrangler.jsonc --port 0 --persist-to $D --workers $W --log-level info > $L 2>&1) &
  P=$!
  for i in $(seq 1 600); do grep -q '"Listening"' $L 2>/dev/null && break; sleep 0.5; done
  sleep $IDLE
  local sup=$(awk '/VmRSS/{print $2/1000}' /proc/$P/status)
  local ws=""; for c in $(pgrep -P $P); do [ "$(cat /proc/$c/comm)" = node ] && ws="$ws $(awk '/VmRSS/{print $2/1000}' /proc/$c/status)"; done
  kill $P; wait $P 2>/dev/null; rm -rf $D $L
  echo "$label sup $sup workers$ws load $(cut -d' ' -f1 /proc/loadavg)"
}
for r in $(seq 1 $ROUNDS); do boot $A A; boot $B B; done | tee /tmp/boot-ab-$$.txt
for s in A B; do awk -v s=$s '$1==s{sup+=$3; n++; for(i=5;i<=NF-2;i++){w+=$i; m++}} END{printf "%s mean: supervisor %.1f MB, worker %.1f MB (%d boots, %d workers)\n", s, sup/n, w/m, n, m}' /tmp/boot-ab-$$.txt; done
