#!/usr/bin/env bash
# The one-time reformat: run once, after every branch of the change is merged, and commit its result on
# its own (a commit that changes layout only, so that `git blame --ignore-rev` can skip it).
#
#   scripts/format-once.sh           apply ESLint's own fixes, then Prettier, then check everything
#
# It stops short of committing: review `git diff --stat`, then `git commit -am "Format with Prettier"`.
# After it, `.ci/run` keeps the code formatted (npm run format:check) and linted (npm run lint).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! git diff --quiet || ! git diff --cached --quiet; then
  echo "format-once: the working tree has changes; commit or stash them first" >&2
  exit 1
fi

over() { git ls-files '*.ts' '*.js' '*.mjs' | grep -v '^test/fixtures/' | xargs awk -v n="$1" 'length($0) > n' | wc -l; }
echo "lines over 120 / 160 characters before: $(over 120) / $(over 160)"

# Mechanical ESLint fixes first (assertions that change nothing), so that Prettier lays out the result.
npx eslint . --fix >/dev/null || true
npx prettier --write . --log-level warn

echo "lines over 120 / 160 characters after:  $(over 120) / $(over 160) (strings, comments and URLs, which Prettier does not wrap)"

status=0
npm run --silent typecheck || status=1
npx prettier --check . --log-level warn || status=1
if ! npx eslint .; then
  status=1
  echo
  echo "format-once: ESLint still finds the problems above. A max-lines finding is a file that the merge or"
  echo "the reformat took past 300 lines: split it, or name it with its reason in eslint.config.js."
fi
git diff --stat | tail -n 1
exit $status
