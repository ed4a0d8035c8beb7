#!/usr/bin/env python3
"""CDK entry point: read the settings from context, build the stacks, synthesize."""

from aws_cdk import App

from stacks.application import build_stacks

app = App()
build_stacks(app)
app.synth()
