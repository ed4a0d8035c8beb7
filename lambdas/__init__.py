"""motflow job lifecycle Lambdas: one code asset, deployed alone with only boto3 available.

Modules: ``submit`` (S3 ObjectCreated -> job record + InvokeEndpointAsync), ``complete`` (SageMaker
async SNS notification -> terminal job state), ``jobs`` (job ids, record shape, conditional
transitions, ``get_job``/``list_jobs``), and their helpers ``config``, ``clients``, ``s3_events``,
``video_magic``, ``notify``; ``job_core`` is what the ``motflow`` command shares with them (the
CLI imports nothing else from here).

How to import them. In the Lambda runtime the asset root is this folder, so the modules are
top-level (handlers ``submit.handler`` and ``complete.handler``). Everywhere else (tests, the local
stack) import them through this package::

    from lambdas import complete, jobs, submit
    submit.handler(s3_event, None)

Each module imports its siblings relatively and falls back to top-level imports when it has no
parent package, so both ways load the same code. Nothing here imports ``model_code`` or
``stacks``.
"""
