#!/usr/bin/env bash
# What each thing qtool puts on a message costs the broker: the bulk-publish baseline with 512 and
# 2,048 in flight, with `mandatory`, a message id, or both, and `qtool send`, in rotation, 100,000
# persistent messages each, ROUNDS rounds; prints "variant seconds" per run and the medians.
# BENCHMARKS.md, "RabbitMQ 3.10 and the mandatory flag", has the results.
# Usage: bench/publish-costs.sh AMQP_URL [ROUNDS]   (the broker's guest user, a local node)
# Run `npm run build` first. Nothing here is part of qtool.
set -euo pipefail
cd "$(dirname "$0")/.."
url=$1
rounds=${2:-8}
queue=qtool-bench-publish-costs
variants=(512 2048 2048-mandatory 2048-id 2048-ids qtool)

purge() {
  node -e "
    const amqp = require('amqplib');
    (async () => {
      const connection = await amqp.connect(process.argv[1]);
      const channel = await connection.createChannel();
      await channel.assertQueue(process.argv[2], { durable: true });
      await channel.purgeQueue(process.argv[2]);
      await connection.close();
    })();" "$url" "$queue"
}

runs=$(mktemp)
trap 'rm -f "$runs"' EXIT
for _ in $(seq 1 "$rounds"); do
  for variant in "${variants[@]}"; do
    purge
    if [ "$variant" = qtool ]; then
      command=(node bin/qtool.js --url "$url" send --queue "$queue" --count 100000 --persistent --quiet x)
    else
      window=${variant%%-*}
      extra=${variant#"$window"}
      command=(node bench/baselines/bulk-publish.mjs "$url" "$queue" 100000 x "$window" ${extra:+"${extra#-}"})
    fi
    seconds=$({ /usr/bin/time -f %e "${command[@]}" >/dev/null; } 2>&1 | tail -1)
    echo "$variant $seconds" | tee -a "$runs"
  done
done
echo "median seconds over $rounds round$([ "$rounds" = 1 ] || echo s):"
for variant in "${variants[@]}"; do
  awk -v v="$variant" '$1 == v { print $2 }' "$runs" | sort -n |
    awk -v v="$variant" '{ s[NR] = $1 } END { m = NR % 2 ? s[(NR + 1) / 2] : (s[NR / 2] + s[NR / 2 + 1]) / 2; printf "%-16s %.2f s\n", v, m }'
done
node -e "
  const amqp = require('amqplib');
  (async () => {
    const connection = await amqp.connect(process.argv[1]);
    await (await connection.createChannel()).deleteQueue(process.argv[2]);
    await connection.close();
  })();" "$url" "$queue"
