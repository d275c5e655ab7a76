#!/bin/sh
# compose-env.sh -- writes .env beside compose.yaml for docker-compose: a
# random token secret of this stack (kept if .env has one), mode 0600, never
# committed (.gitignore). Then: docker-compose up -d --build
set -eu
cd "$(dirname "$0")/.."
if [ -s .env ] && grep -q '^AA_TOKEN_SECRET=..*' .env; then
    echo "compose-env: .env already holds a token secret"
    exit 0
fi
umask 077
printf 'AA_TOKEN_SECRET=%s\n' "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" >.env
chmod 600 .env
echo "compose-env: wrote .env (AA_TOKEN_SECRET, mode 0600)"
