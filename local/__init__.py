"""The local stack: the deployed flow on one machine, no AWS account, the same code.

- `moto_service`: moto server (S3, SQS, SNS, DynamoDB) as its own process.
- `resources`: the deployment's buckets, table, topics, plus the queues that carry events.
- `model_server`: the image's `serve` script (our model server, model_code/serving) on the
  unpacked `model.tar.gz` that `stacks/model_artifact.py` builds.
- `iam_gate`, `iam_policies`, `iam_requests`: every AWS call checked against its role's policy.
- `async_endpoint`: an emulator of a SageMaker asynchronous endpoint (real wire format).
- `event_pump`: delivers queued S3 and SNS events to the real `submit` and `complete` handlers.
- `stack`: starts and stops all of it; `__main__`: `python -m local run VIDEO ...`.

Wiring only: validation, job state and tracking live in `lambdas/` and `model_code/`.
"""
