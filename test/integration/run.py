#!/usr/bin/env python3
"""Runs every integration test file: run.py [name-filter ...]"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_node  # noqa: E402,F401
import test_supervision  # noqa: E402,F401
import test_sdk  # noqa: E402,F401
import test_jobs  # noqa: E402,F401
import test_redis  # noqa: E402,F401
import test_pools  # noqa: E402,F401
import test_deps  # noqa: E402,F401
import test_zinit  # noqa: E402,F401
import test_hostile  # noqa: E402,F401
import test_durable  # noqa: E402,F401
import test_metrics  # noqa: E402,F401
import test_dashboard  # noqa: E402,F401
import test_tls  # noqa: E402,F401
import test_install  # noqa: E402,F401

if __name__ == "__main__":
    sys.exit(harness.run_all(sys.argv[1:]))
