"""The model server for SageMaker's container contract: `serve` starts it.

GET /ping and POST /invocations on port 8080 (SAGEMAKER_BIND_TO_PORT when SageMaker sets it),
the model directory at /opt/ml/model. One front process (uvicorn, asyncio) answers HTTP and
owns a pool of worker processes, one per concurrent invocation, each holding the model.
"""
