import os

# keep torch and BLAS to one thread per process in tests, as on the real-time path
os.environ.setdefault("OMP_NUM_THREADS", "1")
