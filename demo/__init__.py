"""The demo and the test harness, from the checkout only (not in the wheel).

``python -m demo`` (``make demo``) tells the whole story on a generated
repository; :mod:`demo.story_repo` builds that repository and
:mod:`demo.services` starts the real services (OpenBao, PostgreSQL, MariaDB,
Redis, moto) that the demo and the tests use, on 127.0.0.1.
"""
