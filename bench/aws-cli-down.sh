#!/usr/bin/env bash
# Teardown for bench/aws-cli.sh, as a student would write it: find what has a generated id,
# then delete everything one call at a time, dependents first.
#
#   ENDPOINT=http://localhost:4566 bench/aws-cli-down.sh
set -euo pipefail

ENDPOINT="${ENDPOINT:-http://localhost:4566}"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""
aws() { command aws --endpoint-url "$ENDPOINT" "$@"; }

API_ID=$(aws apigateway get-rest-apis --query 'items[?name==`task-api`].id' --output text)
aws apigateway delete-rest-api --rest-api-id "$API_ID"

for uuid in $(aws lambda list-event-source-mappings --function-name task-processor \
        --query 'EventSourceMappings[].UUID' --output text); do
    aws lambda delete-event-source-mapping --uuid "$uuid"
done

aws lambda delete-function --function-name task-processor
aws lambda delete-function --function-name api-enqueue

aws iam detach-role-policy --role-name lambda-sqs-processor \
    --policy-arn arn:aws:iam::000000000000:policy/SQSProcessorPolicy
aws iam detach-role-policy --role-name lambda-api-enqueue \
    --policy-arn arn:aws:iam::000000000000:policy/ApiEnqueuePolicy
aws iam delete-policy --policy-arn arn:aws:iam::000000000000:policy/SQSProcessorPolicy
aws iam delete-policy --policy-arn arn:aws:iam::000000000000:policy/ApiEnqueuePolicy
aws iam delete-role --role-name lambda-sqs-processor
aws iam delete-role --role-name lambda-api-enqueue

aws s3 rb s3://task-results --force

QUEUE_URL=$(aws sqs get-queue-url --queue-name task-queue --query 'QueueUrl' --output text)
aws sqs delete-queue --queue-url "$QUEUE_URL"
DLQ_URL=$(aws sqs get-queue-url --queue-name task-dlq --query 'QueueUrl' --output text)
aws sqs delete-queue --queue-url "$DLQ_URL"
