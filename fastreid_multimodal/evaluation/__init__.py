from .results import format_table, read_results, write_results  # noqa: F401
