#!/usr/bin/env bash
# `up` for the CloudFormation column: deploy bench/cloudformation.yaml as stack exercise-6.
# The function zips must already be in s3://$CODE_BUCKET (bench/cloudformation-code.sh puts
# them there; bench/run does that untimed, so CloudFormation is measured at its best).
#
#   ENDPOINT=http://localhost:4566 bench/cloudformation-up.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ENDPOINT="${ENDPOINT:-http://localhost:4566}"
FUNCTIONS_ENDPOINT="${FUNCTIONS_ENDPOINT:-$ENDPOINT}"
CODE_BUCKET="${CODE_BUCKET:-exstack-bench-code}"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""

aws --endpoint-url "$ENDPOINT" cloudformation deploy \
    --template-file "$HERE/cloudformation.yaml" --stack-name exercise-6 \
    --capabilities CAPABILITY_NAMED_IAM --no-fail-on-empty-changeset \
    --parameter-overrides CodeBucket="$CODE_BUCKET" ProcessorKey=task_processor.zip \
        ApiKey=api_enqueue.zip FunctionsEndpoint="$FUNCTIONS_ENDPOINT"
