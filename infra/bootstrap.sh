#!/bin/sh
# Run by npm before `demo` and `ci` so that both work from a fresh clone with nothing installed
# by hand: dependencies first (npm ci when node_modules is missing, or predates patch-package,
# whose postinstall patches kafkajs: patches/README.md), then, for `ci`, everything
# the tests stand on (Kafka jars and broker, Postgres, topics, migrations; reused when running).
set -e
if [ ! -x node_modules/.bin/tsx ] || [ ! -x node_modules/.bin/patch-package ]; then
  echo "bootstrap: installing dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
if [ "${1:-}" = "infra" ]; then
  node_modules/.bin/tsx infra/stack.ts infra
fi
