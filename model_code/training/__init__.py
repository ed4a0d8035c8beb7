"""Fine-tuning NanoDet-g on the user's labelled footage; a SageMaker training entry point.

The engine never imports this package: it only loads what `export` writes (a state-dict `.pt`
beside `config.json`, the same layout as a deployment's model directory).
"""
