"""The server around the page: the fair line, the worker thread, the workshop scheduler, the print jobs, the
time estimates. The engine (`nst_core`) knows nothing of it."""
