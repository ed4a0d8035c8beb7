#!/usr/bin/env python3
"""Someone else's CDK app that composes motflow: one stack of its own, the pipeline inside it.

It imports motflow as an installed package (``pip install motflow[cdk]``) and nothing from a
checkout. Run it as ``cdk synth`` would: ``CDK_OUTDIR``, ``CDK_DEFAULT_ACCOUNT``/``REGION`` and
``CDK_CONTEXT_JSON`` (``-c``) come from the environment.
"""

import os
from pathlib import Path

from aws_cdk import App, CfnOutput, Environment, Stack, Validations
from cdk_nag import AwsSolutionsChecks

from motflow.cdk import MotflowPipeline, Settings, apply_feature_flags

app = App()
apply_feature_flags(app)
Validations.of(app).add_plugins(AwsSolutionsChecks(app))
stack = Stack(
    app,
    "AcmeVideo",
    env=Environment(
        account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")
    ),
)
weights = app.node.try_get_context("acme:nanodet_dir")
pipeline = MotflowPipeline(
    stack,
    "Tracking",
    settings=Settings(name_prefix="acme-mot", classes=("person", "car")),
    **({"nanodet_dir": Path(weights)} if weights else {}),
)
# The app wires the pipeline into its own resources through the construct's attributes.
CfnOutput(stack, "AcmeJobsTableArn", value=pipeline.jobs_table.table_arn)
CfnOutput(stack, "AcmeEndpointName", value=pipeline.endpoint_name)
app.synth()
