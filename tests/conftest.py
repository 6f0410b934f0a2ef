import os

# keep torch and BLAS to one thread per process in tests, as on the real-time path
os.environ.setdefault("OMP_NUM_THREADS", "1")

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # test helpers such as bundle_factory
