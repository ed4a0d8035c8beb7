"""The account, region and second deployment the infra suite synthesizes."""

ACCOUNT = "123456789012"
REGION = "eu-west-1"
ALT_DIGEST = "sha256:" + "5e" * 32  # a well-formed digest; no registry is contacted at synth
ALT_CONTEXT = {
    "name_prefix": "motflow-cpu",
    "instance_type": "ml.c5.2xlarge",
    "min_capacity": "0",
    "max_capacity": "4",
    "max_concurrent_invocations_per_instance": "3",
    "invocation_timeout_s": "1800",
    "alarm_email": "ops@example.com",
    "removal_policy": "destroy",
    "submit_reserved_concurrency": "5",
    "results_retention_days": "365",
    "job_retention_days": "180",
    "base_image_digest": ALT_DIGEST,
}
