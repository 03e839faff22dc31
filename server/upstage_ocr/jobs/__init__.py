"""OCR jobs: the SQLite store, the job and its pages, the runner and the backends it picks from."""
