"""LocalStack Lambda runtime executor for machines without Docker.

Each Lambda execution environment becomes one local Python process
(``runtime.py``) that speaks LocalStack's executor-endpoint protocol, the same
one the Go init inside LocalStack's Lambda containers speaks.
"""
