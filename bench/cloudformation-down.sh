#!/usr/bin/env bash
# `down` for the CloudFormation column: delete-stack, then the CLI's waiter.
#
#   ENDPOINT=http://localhost:4566 bench/cloudformation-down.sh
set -euo pipefail
ENDPOINT="${ENDPOINT:-http://localhost:4566}"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""

aws --endpoint-url "$ENDPOINT" cloudformation delete-stack --stack-name exercise-6
aws --endpoint-url "$ENDPOINT" cloudformation wait stack-delete-complete --stack-name exercise-6
