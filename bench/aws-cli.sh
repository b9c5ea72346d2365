#!/usr/bin/env bash
# Exercise 6, Tasks 6.1-6.7, as a student runs them: the exercise's aws CLI calls one after
# another, in its order, with its verification steps. Added only what it takes to work:
# a wait for each new function to become Active before its configuration is updated, and the
# Lambda permission for API Gateway (the exercise leaves it out; AWS refuses the call without it).
#
#   ENDPOINT=http://localhost:4566 bench/aws-cli.sh
#
# Uses the `aws` on PATH (bench/run puts its pinned venv first), credentials test/test.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENDPOINT="${ENDPOINT:-http://localhost:4566}"
# What the functions use to reach LocalStack, set as the exercise's commands set it.
FUNCTIONS_ENDPOINT="${FUNCTIONS_ENDPOINT:-$ENDPOINT}"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""
aws() { command aws --endpoint-url "$ENDPOINT" "$@"; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
cp "$REPO/functions/task_processor.py" "$REPO/functions/api_enqueue.py" .

# --- Task 6.1: queues ---------------------------------------------------------------------
aws sqs create-queue --queue-name task-dlq

DLQ_URL=$(aws sqs get-queue-url --queue-name task-dlq --query 'QueueUrl' --output text)
DLQ_ARN=$(aws sqs get-queue-attributes --queue-url "$DLQ_URL" --attribute-names QueueArn \
    --query 'Attributes.QueueArn' --output text)
echo "DLQ ARN: $DLQ_ARN"

aws sqs create-queue --queue-name task-queue --attributes "{
    \"RedrivePolicy\": \"{\\\"deadLetterTargetArn\\\":\\\"$DLQ_ARN\\\",\\\"maxReceiveCount\\\":\\\"3\\\"}\",
    \"VisibilityTimeout\": \"60\"
  }"

QUEUE_URL=$(aws sqs get-queue-url --queue-name task-queue --query 'QueueUrl' --output text)
echo "Queue URL: $QUEUE_URL"

aws sqs get-queue-attributes --queue-url "$QUEUE_URL" --attribute-names All

# --- Task 6.2: results bucket -------------------------------------------------------------
aws s3 mb s3://task-results

# --- Task 6.3: processor role and policy --------------------------------------------------
cat > lambda-trust-policy.json <<'JSON'
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Principal": {
        "Service": "lambda.amazonaws.com"
      },
      "Action": "sts:AssumeRole"
    }
  ]
}
JSON

cat > processor-policy.json <<'JSON'
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes"
      ],
      "Resource": "arn:aws:sqs:us-east-1:000000000000:task-queue"
    },
    {
      "Effect": "Allow",
      "Action": [
        "s3:PutObject"
      ],
      "Resource": "arn:aws:s3:::task-results/*"
    },
    {
      "Effect": "Allow",
      "Action": [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents"
      ],
      "Resource": "*"
    }
  ]
}
JSON

aws iam create-role --role-name lambda-sqs-processor \
    --assume-role-policy-document file://lambda-trust-policy.json
aws iam create-policy --policy-name SQSProcessorPolicy \
    --policy-document file://processor-policy.json
aws iam attach-role-policy --role-name lambda-sqs-processor \
    --policy-arn arn:aws:iam::000000000000:policy/SQSProcessorPolicy

# --- Task 6.4: task processor function ----------------------------------------------------
zip function.zip task_processor.py

aws lambda create-function --function-name task-processor --runtime python3.9 \
    --role arn:aws:iam::000000000000:role/lambda-sqs-processor \
    --handler task_processor.handler --zip-file fileb://function.zip --timeout 120
# Not in the exercise: updating a function still Pending fails (ResourceConflictException).
aws lambda wait function-active-v2 --function-name task-processor
aws lambda update-function-configuration --function-name task-processor \
    --environment "Variables={AWS_ENDPOINT_URL=$FUNCTIONS_ENDPOINT}"

# --- Task 6.5: the queue triggers the processor -------------------------------------------
QUEUE_ARN=$(aws sqs get-queue-attributes --queue-url "$QUEUE_URL" --attribute-names QueueArn \
    --query 'Attributes.QueueArn' --output text)

aws lambda create-event-source-mapping --function-name task-processor \
    --event-source-arn "$QUEUE_ARN" --batch-size 5 --maximum-batching-window-in-seconds 10

aws lambda list-event-source-mappings --function-name task-processor

# --- Task 6.6: API function, role and policy ----------------------------------------------
zip api-function.zip api_enqueue.py

aws iam create-role --role-name lambda-api-enqueue \
    --assume-role-policy-document file://lambda-trust-policy.json

cat > api-policy.json <<'JSON'
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": [
        "sqs:SendMessage"
      ],
      "Resource": "arn:aws:sqs:us-east-1:000000000000:task-queue"
    },
    {
      "Effect": "Allow",
      "Action": [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents"
      ],
      "Resource": "*"
    }
  ]
}
JSON

aws iam create-policy --policy-name ApiEnqueuePolicy --policy-document file://api-policy.json
aws iam attach-role-policy --role-name lambda-api-enqueue \
    --policy-arn arn:aws:iam::000000000000:policy/ApiEnqueuePolicy

aws lambda create-function --function-name api-enqueue --runtime python3.9 \
    --role arn:aws:iam::000000000000:role/lambda-api-enqueue \
    --handler api_enqueue.handler --zip-file fileb://api-function.zip --timeout 30
aws lambda wait function-active-v2 --function-name api-enqueue

QUEUE_URL=$(aws sqs get-queue-url --queue-name task-queue --query 'QueueUrl' --output text)
aws lambda update-function-configuration --function-name api-enqueue \
    --environment "Variables={AWS_ENDPOINT_URL=$FUNCTIONS_ENDPOINT,QUEUE_URL=$QUEUE_URL}"

# --- Task 6.7: the API --------------------------------------------------------------------
aws apigateway create-rest-api --name task-api --description "Async Task Submission API"

API_ID=$(aws apigateway get-rest-apis --query 'items[?name==`task-api`].id' --output text)
ROOT_ID=$(aws apigateway get-resources --rest-api-id "$API_ID" --query 'items[0].id' --output text)

TASKS_RESOURCE_ID=$(aws apigateway create-resource --rest-api-id "$API_ID" \
    --parent-id "$ROOT_ID" --path-part tasks --query 'id' --output text)

aws apigateway put-method --rest-api-id "$API_ID" --resource-id "$TASKS_RESOURCE_ID" \
    --http-method POST --authorization-type NONE

LAMBDA_ARN="arn:aws:lambda:us-east-1:000000000000:function:api-enqueue"

aws apigateway put-integration --rest-api-id "$API_ID" --resource-id "$TASKS_RESOURCE_ID" \
    --http-method POST --type AWS_PROXY --integration-http-method POST \
    --uri "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/$LAMBDA_ARN/invocations"

# Not in the exercise: API Gateway may invoke the function.
aws lambda add-permission --function-name api-enqueue --statement-id apigateway-post-tasks \
    --action lambda:InvokeFunction --principal apigateway.amazonaws.com \
    --source-arn "arn:aws:execute-api:us-east-1:000000000000:$API_ID/*/POST/tasks"

aws apigateway create-deployment --rest-api-id "$API_ID" --stage-name dev

echo "API: $ENDPOINT/restapis/$API_ID/dev/_user_request_/tasks"
