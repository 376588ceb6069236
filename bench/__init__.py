"""``make bench``: throughput, latency and profile figures of the platform (see :mod:`bench.run`).

Not tests: nothing here asserts. It reuses the tests' PostgreSQL settings and platform
launcher (:mod:`tests.support`) and their example forms (:mod:`tests.examples`).
"""
