"""The job core: everything the `motflow` command shares with the Lambdas, in one module.

The CLI (``cli/``) reaches the Lambdas' code only through this module (a test parses ``cli/``'s
imports), so each rule below has one definition, the one the Lambdas run:

- job ids: `job_id_for` (a job's id from its upload's bucket, key and version);
- options: `parse_options` (``KEY=VALUE`` texts), `check_for_deployment`, `to_metadata` (the
  upload metadata submit reads back), `merge_options` (a retry's options over the job's own,
  tracker settings one by one), `validate_analytics_spec`, `OptionError`;
- states and the store: `QUEUED` … `REJECTED`, `STATES`, `TERMINAL_STATES`; `store` gives the
  `JobStore` (`get`, `get_many`, `list_jobs`: the one status query, through the ``by_status``
  index, whose sort key is `STATUS_INDEX_SORT`); `timestamp` (how a record writes its times, so
  a ``since`` bound compares as text);
- the job's message: `notification` (the record's outbox as published);
- the record's outputs (``outputs``: the engine's artifact names -> S3 URIs): `REPORT_OUTPUT`
  and `ANNOTATED_OUTPUT`, the two ``motflow open`` fetches (a CLI test checks them against the
  engine's names);
- S3 rules: `split_s3_uri`, `normalise_etag`.

Not here, because the Lambdas never read them: the progress file (``model_code/progress.py``
owns its name, writer and reader) and the stack's output names and results prefix
(``stacks/contract.py``); docs/ARCHITECTURE.md, Import rules.

Like every module of the Lambda asset, this one imports only its siblings and boto3.
"""

from __future__ import annotations

from typing import Any

try:
    from . import analytics_spec, job_options, jobs, notify, s3_events
except ImportError:  # Lambda runtime: the asset root is this folder, modules are top-level
    import analytics_spec
    import job_options
    import jobs
    import notify
    import s3_events

# Job ids.
job_id_for = jobs.job_id_for

# Options.
OptionError = job_options.OptionError
parse_options = job_options.from_pairs
check_for_deployment = job_options.check_for_deployment
to_metadata = job_options.to_metadata
merge_options = job_options.merge_options
validate_analytics_spec = analytics_spec.validate_spec

# States and the store.
QUEUED, SUCCEEDED, FAILED, REJECTED = jobs.QUEUED, jobs.SUCCEEDED, jobs.FAILED, jobs.REJECTED
STATES = jobs.STATES
TERMINAL_STATES = jobs.TERMINAL_STATES
STATUS_INDEX_SORT = jobs.STATUS_INDEX_SORT
JobStore = jobs.JobStore
timestamp = jobs.timestamp

# The job's message.
notification = notify.notification

# The record's outputs.
REPORT_OUTPUT = "report"
ANNOTATED_OUTPUT = "annotated"

# S3 rules.
split_s3_uri = s3_events.split_s3_uri
normalise_etag = s3_events.normalise_etag


def store(table_name: str, dynamodb: Any) -> jobs.JobStore:
    """The jobs table `table_name` read and written through the `dynamodb` client."""
    return jobs.JobStore(table_name, dynamodb=dynamodb)
