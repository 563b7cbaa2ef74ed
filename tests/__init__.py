import pytest

# tests/conftest.py imports this plugin before pytest loads it as one: registered here, before
# any import of it, its asserts say what they found, as a test's do.
pytest.register_assert_rewrite("tests.plan_support")
