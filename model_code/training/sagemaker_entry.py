"""SageMaker training entry point (`sagemaker_program`); see sagemaker_job.py for conventions.

The job's source directory holds model_code/ beside this file's copy at its root.
"""

import sys
from pathlib import Path

_here = Path(__file__).resolve().parent
for _root in (_here, *_here.parents):
    if (_root / "model_code" / "__init__.py").is_file():
        sys.path.insert(0, str(_root))
        break

from model_code.training.sagemaker_job import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
