#!/usr/bin/env bash
# Untimed set-up for the CloudFormation column: zip the two functions and put them in
# s3://$CODE_BUCKET (made if missing), where bench/cloudformation.yaml's functions find them.
#
#   ENDPOINT=http://localhost:4566 bench/cloudformation-code.sh
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENDPOINT="${ENDPOINT:-http://localhost:4566}"
CODE_BUCKET="${CODE_BUCKET:-exstack-bench-code}"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""
aws() { command aws --endpoint-url "$ENDPOINT" "$@"; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
(cd "$REPO/functions" && zip -q "$WORK/task_processor.zip" task_processor.py \
    && zip -q "$WORK/api_enqueue.zip" api_enqueue.py)
aws s3api head-bucket --bucket "$CODE_BUCKET" >/dev/null 2>&1 || aws s3 mb "s3://$CODE_BUCKET" >/dev/null
aws s3 cp --quiet "$WORK/task_processor.zip" "s3://$CODE_BUCKET/task_processor.zip"
aws s3 cp --quiet "$WORK/api_enqueue.zip" "s3://$CODE_BUCKET/api_enqueue.zip"
