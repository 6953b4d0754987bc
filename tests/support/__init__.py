"""Helpers shared by the test folders; import them as `from tests.support.x import y`."""
