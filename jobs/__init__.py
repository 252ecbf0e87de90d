"""What happens because time passes: plain functions the scheduler (or a test) calls."""
