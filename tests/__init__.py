from tests import fuzz_media  # noqa: F401  (image strategies for the API fuzz tests)
