import os

import pytest


def pytest_report_header(config):
    lines = []
    if os.environ.get("CC_TEST_POSTGRES") == "0":
        lines.append("PostgreSQL cannot be reached: running on SQLite, tests marked 'postgres' are skipped.")
    if os.environ.get("CC_TEST_REDIS") == "0":
        lines.append("Redis cannot be reached: tasks run in-process, tests marked 'redis' are skipped.")
    return lines


def pytest_collection_modifyitems(config, items):
    missing = {
        "postgres": os.environ.get("CC_TEST_POSTGRES") == "0",
        "redis": os.environ.get("CC_TEST_REDIS") == "0",
    }
    for item in items:
        for marker, is_missing in missing.items():
            if is_missing and item.get_closest_marker(marker):
                item.add_marker(pytest.mark.skip(reason=f"needs {marker}, which cannot be reached (outside CI)"))


@pytest.fixture(autouse=True)
def _celery_join_flag_cleared():
    """Celery marks "inside a task" with one process-wide flag that every eager `apply_async` sets and then puts back
    as it found it. Threads of a concurrency test doing that at once can leave it set, and a later test's
    `result.get()` then fails with "Never call result.get() within a task!". Each test starts with it cleared."""
    from celery._state import _set_task_join_will_block

    _set_task_join_will_block(False)
    yield
