#!/usr/bin/env python3
"""CDK entry point: read the settings from context, build the stacks, synthesize (cdk-nag on)."""

from stacks.application import build_stacks, create_app

app = create_app()
build_stacks(app)
app.synth()
